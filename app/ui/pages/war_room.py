"""War room: the live screen. Model health beside user behaviour for one flow,
refreshing itself, readable from across a room. `?kiosk=1` hides the controls;
`?at=2026-11-28T14:00Z` replays the screen as of a past moment."""

from datetime import timedelta

import streamlit as st

from app import runtime, settings
from app.domain import kpis, overview, warroom
from app.store import queries
from app.store.db import utcnow
from app.ui import charts, components

store = runtime.store()
tz = components.viewer_tz()
qp = st.query_params
kiosk = qp.get("kiosk") == "1"
flows = queries.flows_present(store) or list(settings.get("flows"))
flow = qp.get("flow", "deposit")
flow = flow if flow in flows else (flows[0] if flows else "deposit")
window = qp.get("window", "24h")
window = window if window in warroom.WINDOWS else "24h"
try:
    at = warroom.parse_at(qp.get("at"))
except ValueError:
    st.error(f"`at` must be an ISO time, got {qp.get('at')!r}; showing live data.")
    at = None

components.tv_style(kiosk=kiosk)
if not kiosk:
    with st.sidebar:
        flow = st.selectbox("Flow", flows, index=flows.index(flow) if flow in flows else 0, key="wr_flow")
        window = st.segmented_control("Window", list(warroom.WINDOWS), default=window, key="wr_window") or window
        st.caption(f"Refreshes every {settings.get('refresh_seconds'):g} s. Add `?kiosk=1` to the address for the TV.")
        if at is not None:
            st.caption(f"Replaying as of {components.local_time(at, tz)}; remove `at` from the address for live.")
params = {"flow": flow, "window": window}
if kiosk:
    params["kiosk"] = "1"
if at is not None:
    params["at"] = qp.get("at")
if dict(qp) != params:
    qp.from_dict(params)

st.title(f"War room · {flow.replace('_', ' ')}")


@st.fragment(run_every=timedelta(seconds=float(settings.get("refresh_seconds"))))
def live() -> None:
    now = at or utcnow()
    stale = warroom.staleness(newest=queries.newest_event(store, until=now), now=now,
                              threshold_minutes=float(settings.get("stale_minutes")))
    if stale.stale:
        st.error(stale.message, icon="🛑")
    refreshed = components.local_time(utcnow(), tz)
    st.caption(f"Last refreshed {refreshed}" + (f" · as of {components.local_time(at, tz)}" if at else "")
               + (f" · newest event {components.local_time(stale.newest, tz)}" if stale.newest else ""))

    seg = queries.Segment(flow=flow)
    cur, old = kpis.tile_values(store, seg, end=now.replace(second=0, microsecond=0) + timedelta(minutes=1))
    firing = queries.firing_alerts(store)
    tiles = kpis.tiles(cur, old, kpis.alert_states(firing, flow))
    st.caption("Tiles: the last hour (survey score: the last 24 hours), against the same window one week earlier.")
    for row in (tiles[:4], tiles[4:]):
        cols = st.columns(4)
        for col, t in zip(cols, row):
            with col:
                st.metric(t.label, t.text, t.delta, delta_color=t.delta_color, delta_arrow=t.delta_arrow, border=True)
                st.caption("🔴 alert firing" if t.alert == "firing" else "🟢 no alert firing")

    start, end, bucket = warroom.chart_range(end=now, window=window)
    counts = queries.series(store, seg, start=start, end=end, bucket=bucket)
    incidents = queries.incidents_overlapping(store, start=start, end=end, flow=flow)
    features = queries.features_of_flow(store, flow)
    markers = warroom.flag_markers(queries.flag_changes_between(store, start=start, end=end, features=features))
    fig = charts.fp_vs_conversion(overview.series(counts), tz=tz, flow=flow, incidents=incidents,
                                  markers=markers, window=(start, end))
    st.plotly_chart(fig, key="war_room_chart")

    c1, c2, c3 = st.columns(3)
    with c1:
        st.subheader("ML features")
        states = queries.feature_states(store)
        if states.empty:
            st.caption("No features registered yet.")
        else:
            st.dataframe(states.assign(state=[warroom.feature_state_text(r) for _, r in states.iterrows()])
                         [["feature", "flow", "active_version", "state"]], hide_index=True)
    with c2:
        st.subheader("Open incidents")
        open_inc = queries.open_incidents(store)
        if open_inc.empty:
            st.caption("No open incidents.")
        else:
            st.dataframe(open_inc.assign(age=[warroom.age_text(b, now) for b in open_inc["began"]])
                         [["id", "severity", "title", "status", "age"]], hide_index=True)
    with c3:
        st.subheader("Firing alerts")
        if firing.empty:
            st.caption("No alerts firing.")
        else:
            st.dataframe(firing[["name", "metric", "severity", "value", "fired_at"]], hide_index=True)


live()
