"""Streamlit entry point: page setup and navigation."""

import streamlit as st

st.set_page_config(page_title="warroom", page_icon="🚨", layout="wide")

pages = [
    st.Page("ui/pages/overview.py", title="Overview", icon="📊", default=True, url_path="overview"),
]
st.navigation(pages).run()
