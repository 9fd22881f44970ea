"""Trends: for product leads the morning after. False-positive rate against
conversion over any range and segment, period comparisons, the worst segments,
model-score drift and latency per version, and exports."""

from datetime import datetime, time, timedelta

import streamlit as st

from app import runtime
from app.domain import drift, export, kpis, trends
from app.store import queries
from app.store.db import utcnow
from app.store.schema import LAT_COLS, LATENCY_EDGES_MS, SCORE_COLS
from app.ui import charts, components

ALL = "All"
store = runtime.store()
tz = components.viewer_tz()
qp = st.query_params
opts = queries.segment_options(store)
now = utcnow()
newest = queries.newest_event(store)

st.title("Trends")


def pick(label: str, options: list[str], key: str, *, allow_all: bool = True) -> str | None:
    choices = ([ALL] if allow_all else []) + options
    wanted = qp.get(key, choices[0] if choices else ALL)
    value = st.sidebar.selectbox(label, choices, index=choices.index(wanted) if wanted in choices else 0,
                                 key=f"tr_{key}")
    return None if value == ALL else value


with st.sidebar:
    st.header("Filters")
    presets = list(trends.PRESETS) + ["custom"]
    preset = st.selectbox("Time range", presets, index=presets.index(qp.get("range", "last 7 days"))
                          if qp.get("range", "last 7 days") in presets else 1, key="tr_range")
flows = opts["flow"] or ["deposit"]
flow = pick("Flow", flows, "flow", allow_all=False)
feature = pick("Feature", queries.features_of_flow(store, flow), "feature")
version = pick("Model version", queries.versions_of_feature(store, feature) if feature else [], "version")
platform = pick("Platform", opts["platform"], "platform")
region = pick("Region", opts["region"], "region")

if preset == "custom":
    default_end = (newest or now).date()
    picked = st.sidebar.date_input("From / to (UTC days)", value=(default_end - timedelta(days=6), default_end),
                                   key="tr_dates")
    d0, d1 = (picked if isinstance(picked, (tuple, list)) and len(picked) == 2 else (picked, picked))
    rng = trends.Range(datetime.combine(d0, time()), datetime.combine(d1, time()) + timedelta(days=1))
else:
    rng = trends.preset_range(preset, now=now, newest=newest)
grain = st.sidebar.radio("Granularity", list(trends.GRAINS), horizontal=True,
                         index=list(trends.GRAINS).index(qp.get("grain", "hour")) if qp.get("grain", "hour")
                         in trends.GRAINS else 1, key="tr_grain")
used = trends.choose_grain(rng.start, rng.end, grain)
if used != grain:
    st.sidebar.caption(f"{grain} would draw {trends.points(rng.start, rng.end, grain):,} points per trace; "
                       f"showing {used}.")
qp.from_dict({k: v for k, v in {"range": preset, "flow": flow, "feature": feature, "version": version,
                                "platform": platform, "region": region, "grain": grain}.items() if v})

seg = queries.Segment(flow=flow, feature=feature, model_version=version, platform=platform, region=region)
st.caption(f"{components.local_time(rng.start, tz)} to {components.local_time(rng.end, tz)} · "
           f"{flow} · {feature or 'all features'} · {version or 'all versions'} · "
           f"{platform or 'all platforms'} · {region or 'all regions'} · per {used}")

# -- false-positive rate against conversion ---------------------------------
counts = queries.series(store, seg, start=rng.start, end=rng.end, bucket=trends.GRAINS[used][0])
incidents = queries.incidents_overlapping(store, start=rng.start, end=rng.end)
view = trends.view_table(counts, trends.label_periods(counts["bucket"], incidents))
fit = trends.fit(view["false_positive_rate"], view["conversion"])
st.subheader("False-positive rate against conversion")
st.markdown(f"**{trends.elasticity_text(fit, flow)}**")
st.plotly_chart(charts.fp_conversion_scatter(view, flow=flow, fit=fit), key="tr_scatter")
c1, c2 = st.columns(2)
c1.download_button("Export view as CSV", export.csv_bytes(view), file_name=f"warroom-{flow}-trend.csv",
                   mime="text/csv", key="tr_csv")
c2.download_button("Export view as Parquet", export.parquet_bytes(view), file_name=f"warroom-{flow}-trend.parquet",
                   mime="application/octet-stream", key="tr_parquet")

# -- period comparison -------------------------------------------------------
st.subheader("Period comparison")
modes = ["this week vs last week"] + (["incident vs baseline"] if len(incidents) else [])
mode = st.radio("Compare", modes, horizontal=True, key="tr_compare")
incident_window = None
if mode == "incident vs baseline":
    labels = [f"#{r['id']} {r['title']}" for _, r in incidents.iterrows()]
    chosen = incidents.iloc[labels.index(st.selectbox("Incident", labels, key="tr_incident"))]
    incident_window = (chosen["began"], chosen["resolved_at"] if chosen["resolved_at"] is not None
                       and str(chosen["resolved_at"]) != "NaT" else rng.end)
(a0, a1), (b0, b1) = trends.comparison_windows(mode, end=rng.end, incident=incident_window)
va = kpis.window_values(store, seg, start=a0, end=a1)
vb = kpis.window_values(store, seg, start=b0, end=b1)
table = trends.compare(va, vb)
st.dataframe(table[["kpi", "period_a_text", "period_b_text"]], hide_index=True, key="tr_compare_table",
             column_config={"kpi": "KPI",
                            "period_a_text": f"A: {components.local_time(a0, tz)} – {components.local_time(a1, tz)}",
                            "period_b_text": f"B: {components.local_time(b0, tz)} – {components.local_time(b1, tz)}"})

# -- breakdown ---------------------------------------------------------------
st.subheader("By platform and region, worst first")
st.dataframe(trends.breakdown(queries.breakdown(store, seg, start=rng.start, end=rng.end)), hide_index=True,
             key="tr_breakdown",
             column_config={c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
                            for c in ("false_positive_rate", "decline_rate", "review_rate", "conversion", "bounce_rate")})

# -- model health --------------------------------------------------------------
st.subheader("Model health")
health_feature = feature or (queries.features_of_flow(store, flow) or [None])[0]
if health_feature is None:
    st.caption(f"No ML feature decides in the {flow} flow.")
else:
    ref_start, ref_end = rng.start - timedelta(days=7), rng.start
    ref = queries.score_histograms(store, feature=health_feature, model_version=version, start=ref_start,
                                   end=ref_end, bucket="1d")
    days = queries.score_histograms(store, feature=health_feature, model_version=version, start=rng.start,
                                    end=rng.end, bucket="1d")
    reference, current, ref_start, ref_end = drift.reference_and_current(ref, days, SCORE_COLS,
                                                                         ref_start=ref_start, ref_end=ref_end)
    st.caption(f"{health_feature} {version or '(all versions)'}: scores in the range against the reference window "
               f"{components.local_time(ref_start, tz)} – {components.local_time(ref_end, tz)}.")
    labels = [f"{i / 10:.1f}–{(i + 1) / 10:.1f}" for i in range(len(SCORE_COLS))]
    h1, h2 = st.columns(2)
    h1.plotly_chart(charts.score_distribution(reference, current, labels=labels), key="tr_scores")
    table_drift = drift.drift_table(days, reference, SCORE_COLS)
    h2.plotly_chart(charts.drift_over_time(table_drift, tz=tz), key="tr_drift")
    st.dataframe(table_drift, hide_index=True, key="tr_drift_table")
    lat = trends.latency_table(queries.latency_by_version(store, feature=health_feature, start=rng.start, end=rng.end),
                               LATENCY_EDGES_MS, LAT_COLS)
    st.plotly_chart(charts.latency_percentiles(lat), key="tr_latency")
    st.dataframe(lat, hide_index=True, key="tr_latency_table")
