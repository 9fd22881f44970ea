"""Streamlit entry point: page setup and navigation."""

import streamlit as st

st.set_page_config(page_title="warroom", page_icon="🚨", layout="wide")

kiosk = st.query_params.get("kiosk") == "1"
pages = [
    st.Page("ui/pages/war_room.py", title="War room", icon="🚨", url_path="war-room"),
    st.Page("ui/pages/trends.py", title="Trends", icon="📈", url_path="trends"),
    st.Page("ui/pages/overview.py", title="Overview", icon="📊", default=True, url_path="overview"),
]
st.navigation(pages, position="hidden" if kiosk else "sidebar").run()
