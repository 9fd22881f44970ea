"""Model value: for each ML feature, fraud losses it prevented against what its false positives cost."""

import streamlit as st

from app import report, runtime, settings
from app.domain import quarter as q
from app.domain import roi
from app.store.db import utcnow
from app.store.queries import newest_event
from app.ui import roi_charts

store = runtime.store()
now = newest_event(store) or utcnow()
st.title("Model value")
st.caption("Fraud prevented = amount of labelled fraud the model declined or held for review. False-positive cost = "
           "legitimate users it flagged x the share of them who then do not complete x the flow's average value x "
           "take rate. Net value = prevented - false-positive cost.")

choices = q.recent_quarters(now)
wanted = st.query_params.get("quarter")
c1, c2 = st.columns(2)
quarter = c1.selectbox("Quarter", choices, index=choices.index(wanted) if wanted in choices else 0, key="value_quarter")
st.query_params["quarter"] = quarter
share = c2.number_input("Share of flagged legitimate users who do not complete (%)", min_value=0.0, max_value=100.0,
                        value=float(settings.get("fp_lost_share")) * 100, step=5.0, key="value_fp_share",
                        help="setting WARROOM_FP_LOST_SHARE gives the default") / 100.0
start, end = q.parse_quarter(quarter)
value = q.model_value(store, start=start, end=min(end, max(now, start)), fp_lost_share=share)
if value.empty:
    st.info(f"No model decisions in {quarter}.")
    st.stop()
totals = q.model_value_totals(value)
m = st.columns(3)
m[0].metric("Net value of the models", roi.money(totals["net_value_usd"]))
m[1].metric("Fraud prevented", roi.money(totals["fraud_prevented_usd"]))
m[2].metric("False positives' cost", roi.money(totals["false_positive_cost_usd"]),
            help=f"{totals['lost_conversions']:,.0f} lost conversions")
st.plotly_chart(roi_charts.model_value(value), key="value_chart")
st.dataframe(report.value_table(value), hide_index=True, key="value_table")
for row in value[value["note"] != ""].itertuples():
    st.caption(f"{row.feature}: {row.note}.")
