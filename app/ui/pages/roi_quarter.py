"""Quarter overview: what the quarter's incidents cost, how fast they were handled, and the board report."""

import streamlit as st

from app import report, runtime
from app.domain import quarter as q
from app.domain import roi
from app.store.db import utcnow
from app.store.queries import newest_event
from app.ui import components, roi_charts

store = runtime.store()
now = newest_event(store) or utcnow()
st.title("Quarter overview")

choices = q.recent_quarters(now)
wanted = st.query_params.get("quarter")
if wanted and wanted not in choices:
    try:
        q.parse_quarter(wanted)
        choices.append(wanted.upper())
    except ValueError:
        st.warning(f"?quarter={wanted} is not a quarter like 2026Q3; showing the current one")
quarter = st.selectbox("Quarter", choices, key="quarter_pick",
                       index=choices.index(wanted.upper()) if wanted and wanted.upper() in choices else 0)
st.query_params["quarter"] = quarter
key = roi.version_key(store)
summary = components.cached(q.summarize, key=(*key, quarter, now), store=store, quarter=quarter, now=now)
t = summary.totals
if not t["incidents"]:
    st.info(f"No incident began in {quarter}. Incidents logged on the Incidents page (or opened by an alert) "
            "appear here with their cost.")
    st.stop()


m = st.columns(5)
m[0].metric("Total incident cost", roi.money(t["total_cost"]),
            help=f"95% interval {roi.money(t['total_cost_lower'])} .. {roi.money(t['total_cost_upper'])}")
m[1].metric("Lost revenue", roi.money(t["lost_revenue"]))
m[2].metric("Support cost", roi.money(t["ticket_cost"]))
m[3].metric("Incidents", f"{t['incidents']}", help=f"{t['estimated']} estimated")
m[4].metric("Cost per incident hour", roi.money(t["cost_per_hour"]), help=f"{t['incident_hours']:,.1f} incident hours")
r = st.columns(4)
r[0].metric("MTTD", roi.minutes_as_hours(t["mttd_min"]), help="mean time from start to detection")
r[1].metric("MTTA", roi.minutes_as_hours(t["mtta_min"]), help="mean time from detection to acknowledgement")
r[2].metric("MTTM", roi.minutes_as_hours(t["mttm_min"]), help="mean time from start to mitigation")
r[3].metric("MTTR", roi.minutes_as_hours(t["mttr_min"]), help="mean time from start to resolution")
unestimated = summary.incidents[summary.incidents["note"] != ""]
if len(unestimated):
    st.warning("Not estimated: " + "; ".join(f"#{int(r.id)}: {r.note}" for r in unestimated.itertuples()))

st.subheader("Incidents by cost")
st.plotly_chart(roi_charts.incidents_by_cost(summary.incidents), key="quarter_ranked_chart")
st.dataframe(report.incident_table(summary), hide_index=True, key="quarter_incidents")
c1, c2 = st.columns(2)
with c1:
    st.subheader("Recovery trend")
    st.plotly_chart(roi_charts.recovery_trend(summary.monthly()), key="quarter_trend_chart")
with c2:
    st.subheader("Recovery time against cost")
    st.plotly_chart(roi_charts.recovery_vs_cost(summary.incidents), key="quarter_scatter_chart")

st.subheader("Board report")
st.caption("Summary numbers, incidents by cost, recovery trend, model value and the budget scenarios: "
           "a self-contained HTML file (opens offline) or a PDF.")


def _report():
    return components.cached(report.build, key=(*key, "report", quarter, now), store=store, quarter=quarter, now=now)


b1, b2 = st.columns(2)
b1.download_button("Download the board report (HTML)", lambda: report.to_html(_report()).encode(),
                   file_name=f"warroom-{quarter}.html", mime="text/html", key="report_html", on_click="ignore")
b2.download_button("Download the board report (PDF)", lambda: report.to_pdf(_report()),
                   file_name=f"warroom-{quarter}.pdf", mime="application/pdf", key="report_pdf", on_click="ignore",
                   disabled=not report.pdf_available(),
                   help=None if report.pdf_available() else "needs Chromium on the server (apt-get install chromium)")
