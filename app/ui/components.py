"""Small reusable widgets."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def viewer_tz() -> str:
    """The viewer's IANA time zone (from the browser), UTC when unknown."""
    try:
        tz = st.context.timezone
    except Exception:  # no browser context (AppTest, bare mode)
        tz = None
    return tz or "UTC"


def local_time(ts, tz: str) -> str:
    if ts is None or pd.isna(ts):
        return "—"
    return pd.Timestamp(ts).tz_localize("UTC").tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def tv_style(*, kiosk: bool) -> None:
    """Large numerals for a screen across the room; kiosk mode hides sidebar and chrome."""
    css = """
    [data-testid="stMetricValue"] { font-size: 3.2rem; font-weight: 700; }
    [data-testid="stMetricLabel"] p { font-size: 1.15rem; }
    [data-testid="stMetricDelta"] { font-size: 1.05rem; }
    """
    if kiosk:
        css += """
        [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
        [data-testid="stToolbar"] { display: none !important; }
        .block-container { padding-top: 1rem; }
        """
    st.markdown(f"<style>{css}</style>", unsafe_allow_html=True)



def flash(message: str) -> None:
    """Show `message` as a success after the rerun that redraws the page with the new state."""
    st.session_state["_flash"] = message
    st.rerun()


def show_flash() -> None:
    message = st.session_state.pop("_flash", None)
    if message:
        st.success(message)


_MD_SPECIAL = "\\`*_{}[]<>()#+-.!|~$"


def md_escape(text: str) -> str:
    """User text made inert inside Markdown (headers, labels): no links, no emphasis, no HTML."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def _cached(key: tuple, _fn, _kwargs: dict):
    return _fn(**_kwargs)


def cached(fn, *, key: tuple, **kwargs):
    """fn(**kwargs), remembered for 15 minutes under `key` (which must name everything the result depends
    on: the store file and its data version, the inputs). For the ROI estimates, which take a second."""
    return _cached((fn.__module__, fn.__qualname__, *key), fn, kwargs)
