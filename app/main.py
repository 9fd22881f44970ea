"""Streamlit entry point: page setup, sign-in gate, navigation."""

import streamlit as st

from app.ui import auth

st.set_page_config(page_title="warroom", page_icon="🚨", layout="wide")

kiosk = st.query_params.get("kiosk") == "1"
st.session_state["_current_actor"] = auth.current_actor()
pages = [
    st.Page("ui/pages/war_room.py", title="War room", icon="🚨", url_path="war-room"),
    st.Page("ui/pages/trends.py", title="Trends", icon="📈", url_path="trends"),
    st.Page("ui/pages/control.py", title="Control panel", icon="🎛️", url_path="control"),
    st.Page("ui/pages/incidents.py", title="Incidents", icon="🧯", url_path="incidents"),
    st.Page("ui/pages/alerts.py", title="Alerts", icon="🔔", url_path="alerts"),
    st.Page("ui/pages/overview.py", title="Overview", icon="📊", default=True, url_path="overview"),
    st.Page("ui/pages/roi_incident.py", title="Incident ROI", icon="💸", url_path="incident-roi"),
    st.Page("ui/pages/roi_quarter.py", title="Quarter overview", icon="🗓️", url_path="quarter"),
    st.Page("ui/pages/roi_model_value.py", title="Model value", icon="🛡️", url_path="model-value"),
    st.Page("ui/pages/roi_budget.py", title="Budget planner", icon="🧮", url_path="budget"),
]
st.navigation(pages, position="hidden" if kiosk else "sidebar").run()
