"""Incident ROI: what one incident (or any window of a flow) cost, against its counterfactual."""

import json
from datetime import datetime, time, timedelta

import streamlit as st

from app import runtime
from app.domain import incidents as inc
from app.domain import roi
from app.store.db import utcnow
from app.store.queries import flows_present, newest_event
from app.ui import components, roi_charts

store = runtime.store()
tz = components.viewer_tz()
now = newest_event(store) or utcnow()
st.title("Incident ROI")
st.caption("What an incident cost: completions against a counterfactual fitted on the weeks before it "
           "(time of day, day of week, trend, and the flows it did not touch), with 95% intervals.")

all_inc = inc.list_all(store)
modes = ["A logged incident", "Any window of a flow"]
mode = st.radio("Estimate", modes, horizontal=True, key="roi_mode",
                index=1 if st.query_params.get("flow") and not st.query_params.get("incident") else 0)
key = roi.version_key(store)
try:
    if mode == modes[0]:
        if all_inc.empty:
            st.info("No incidents are logged yet: open one on the Incidents page, or estimate any window.")
            st.stop()
        ids = [int(i) for i in all_inc["id"]]
        wanted = st.query_params.get("incident")
        chosen = st.selectbox("Incident", ids, key="roi_incident",
                              index=ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in ids else 0,
                              format_func=lambda i: f"#{i} {all_inc.set_index('id').loc[i, 'title']}")
        st.query_params["incident"] = str(chosen)
        incident = inc.get(store, chosen)
        flow = st.selectbox("Flow", incident["flows"], key="roi_incident_flow") if len(incident["flows"]) > 1 \
            else incident["flows"][0]
        imp = components.cached(roi.estimate_incident, key=(*key, "incident", chosen, flow, now), store=store,
                                incident=incident, now=now, flow=flow)
    else:
        st.query_params.pop("incident", None)
        flows = flows_present(store)
        c1, c2, c3, c4, c5 = st.columns([2, 2, 1, 2, 1])
        flow = c1.selectbox("Flow", flows, key="roi_flow",
                            index=flows.index(st.query_params["flow"]) if st.query_params.get("flow") in flows else 0)
        default_start = now - timedelta(days=1)
        d0 = c2.date_input("Start (UTC)", value=default_start.date(), key="roi_start_date")
        t0 = c3.time_input("at", value=time(default_start.hour), key="roi_start_time")
        d1 = c4.date_input("End (UTC)", value=now.date(), key="roi_end_date")
        t1 = c5.time_input("at ", value=time(now.hour), key="roi_end_time")
        start, end = datetime.combine(d0, t0), datetime.combine(d1, t1)
        st.query_params["flow"] = flow
        imp = components.cached(roi.estimate, key=(*key, "window", flow, start, end), store=store, flow=flow,
                                start=start, end=end)
except (roi.RoiError, ValueError) as exc:  # ValueError: a window past the query limits
    st.warning(f"Cannot estimate this window: {exc}")
    st.stop()

data = imp.to_json()
total, rev, tc = imp.total_cost, imp.lost_revenue, imp.ticket_cost
m = st.columns(6)
m[0].metric("Total cost", roi.money(total[0]), help=f"95% interval {roi.money(total[1])} .. {roi.money(total[2])}")
m[1].metric("Lost revenue", roi.money(rev[0]), help=f"95% interval {roi.money(rev[1])} .. {roi.money(rev[2])}")
m[2].metric("Lost conversions", f"{imp.cf.lost:,.0f}",
            help=f"95% interval {imp.cf.lost_lower:,.0f} .. {imp.cf.lost_upper:,.0f}")
m[3].metric("Support cost", roi.money(tc[0]), help=f"{imp.tickets['excess']:+,.0f} tickets over the baseline")
m[4].metric("Loss per hour", roi.money(imp.loss_per_hour))
m[5].metric("Each hour sooner saves", roi.money(imp.value_per_hour_sooner),
            help="loss rate before mitigation minus the rate after it (the loss rate itself when not mitigated)")
conv = imp.conversion
st.caption(
    f"{data['window']['start']} .. {data['window']['end']} ({imp.hours:.1f} h, {imp.grain_minutes}-minute buckets). "
    f"Conversion {conv[0]:.2%} against {conv[1]:.2%} expected ({conv[2]:.2%} .. {conv[3]:.2%}). "
    f"Controls: {', '.join(imp.cf.controls) or 'none (seasonality and trend only)'}; fit R² {imp.cf.r2:.2f} on "
    f"{imp.cf.n_train} buckets"
    + (f", leaving out incidents {', '.join(f'#{i}' for i in imp.excluded_incidents)}" if imp.excluded_incidents else "")
    + f". Value {roi.money(imp.assumptions.avg_value_usd)} per completion ({imp.assumptions.avg_value_source}), "
      f"take rate {imp.assumptions.take_rate:.2%}, {roi.money(imp.assumptions.cost_per_ticket_usd)} per ticket.")

st.plotly_chart(roi_charts.counterfactual(imp.cf.buckets, imp.history_tail(), tz=tz, flow=imp.flow, mitigated_at=imp.mitigated_at),
                key="roi_cf_chart")

left, right = st.columns(2)
with left:
    st.subheader("Cost breakdown")
    st.plotly_chart(roi_charts.cost_breakdown({"lost revenue": rev, "support tickets": tc, "total": total}),
                    key="roi_cost_chart")
    sup = imp.tickets
    st.caption(f"{sup['tickets']:,.0f} tickets opened against {sup['baseline']:,.1f} expected for these hours; "
               f"mean resolution {roi.hours_text(sup['resolution_hours_before'])} before, "
               f"{roi.hours_text(sup['resolution_hours_during'])} during "
               f"({sup['extra_resolution_hours']:+,.0f} ticket-hours).")
with right:
    st.subheader("Recovery")
    if data["recovery_minutes"]:
        st.plotly_chart(roi_charts.recovery(data["recovery_minutes"]), key="roi_recovery_chart")
        st.caption(" · ".join(f"{roi_charts.RECOVERY_LABELS[k]}: {roi.duration(v)}"
                              for k, v in data["recovery_minutes"].items()))
    else:
        st.caption("Recovery times come from a logged incident's timeline.")

st.subheader("Sentiment")
sen = imp.sentiment
s1, s2, s3 = st.columns(3)
s1.metric("Mean survey score during", "n/a" if sen["during"]["mean_score"] is None else f"{sen['during']['mean_score']:.2f}",
          None if sen["change"]["mean_score"] is None else f"{sen['change']['mean_score']:+.2f}")
s2.metric("NPS during", "n/a" if sen["during"]["nps"] is None else f"{sen['during']['nps']:.0f}",
          None if sen["change"]["nps"] is None else f"{sen['change']['nps']:+.0f}")
s3.metric("Responses during / before", f"{sen['during']['responses']} / {sen['before']['responses']}")
st.plotly_chart(roi_charts.sentiment(imp.sentiment_series, tz=tz), key="roi_sentiment_chart")
comments = roi.comments(store, flow=imp.flow, start=imp.start, end=imp.end)
st.markdown(f"**Survey comments in the window** ({imp.comments}, lowest score first)")
if comments.empty:
    st.caption("No comments in the window.")
else:
    comments["ts"] = [components.local_time(t, tz) for t in comments["ts"]]
    st.dataframe(comments, hide_index=True, key="roi_comments")

st.download_button("Download the estimate (JSON)", json.dumps(data, indent=2), file_name=f"roi-{imp.flow}.json",
                   mime="application/json", key="roi_json", on_click="ignore")
