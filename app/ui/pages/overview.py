"""Overview: how fresh each kind of data is, and the fraud model's false-positive
rate against deposit conversion over the last 24 hours."""

import streamlit as st

from app import runtime
from app.domain import metrics, overview
from app.store import queries
from app.store.db import utcnow
from app.ui import charts, components

store = runtime.store()
tz = components.viewer_tz()
now = utcnow()
FLOW = "deposit"

st.title("Overview")

fresh = overview.freshness_rows(queries.freshness(store, now=now), now=now)
window = overview.chart_window(now=now, newest=queries.newest_event(store))
totals = overview.summarize(queries.flow_totals(store, flow=FLOW, start=window.start, end=window.end))

st.subheader("Deposit, last 24 hours")
if window.note:
    st.info(window.note + f" ({components.local_time(window.start, tz)} to {components.local_time(window.end, tz)})")
cols = st.columns(4)
cols[0].metric("False-positive rate", metrics.pct(totals.false_positive_rate, 2))
cols[1].metric("Conversion", metrics.pct(totals.conversion, 2))
cols[2].metric("Decisions", f"{totals.decisions:,}")
cols[3].metric("Sessions started", f"{totals.sessions_started:,}")

counts = queries.fp_vs_conversion(store, flow=FLOW, start=overview.align_up(window.start, 30), end=window.end,
                                  bucket="30m")
fig = charts.fp_vs_conversion(overview.series(counts), tz=tz, flow=FLOW)
st.plotly_chart(fig, width="stretch", key="overview_fp_conv")

st.subheader("Data freshness")
table = fresh.assign(last_event=[components.local_time(t, tz) for t in fresh["last_event"]])
st.dataframe(
    table[["kind", "last_event", "age", "rows_last_hour", "rows_total"]],
    hide_index=True, width="stretch",
    column_config={"kind": "Kind", "last_event": f"Newest event ({tz})", "age": "Age",
                   "rows_last_hour": "Rows in the last hour", "rows_total": "Rows in all"},
)
