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
