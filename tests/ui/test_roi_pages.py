"""AppTest of the ROI pages: the figures shown equal the domain's results on the same store."""

from __future__ import annotations

import json

import pytest

from app import runtime
from app.domain import budget, incidents, quarter, roi
from app.store.queries import newest_event
from tests.ui.apptest import open_page


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at, column: str):
    """The first st.dataframe that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def figure(at, key: str) -> dict:
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        if c.proto.id.endswith(key) or key in c.proto.id:
            return spec
    raise AssertionError(f"no chart {key}")


def test_incident_roi_page_shows_the_domain_estimate(roi_app_store):
    at = open_page("ui/pages/roi_incident.py", {"incident": "1"})
    store = runtime.store()
    imp = roi.estimate_incident(store, incidents.get(store, 1), now=newest_event(store))
    shown = metrics(at)
    assert shown["Total cost"] == roi.money(imp.total_cost[0])
    assert shown["Lost revenue"] == roi.money(imp.lost_revenue[0])
    assert shown["Lost conversions"] == f"{imp.cf.lost:,.0f}"
    assert shown["Support cost"] == roi.money(imp.ticket_cost[0])
    assert shown["Each hour sooner saves"] == roi.money(imp.value_per_hour_sooner)
    assert shown["Responses during / before"] == (f"{imp.sentiment['during']['responses']} / "
                                                   f"{imp.sentiment['before']['responses']}")
    cf = figure(at, "roi_cf_chart")
    traces = {t["name"]: t for t in cf["data"]}
    assert traces["actual"]["y"] == pytest.approx(imp.cf.buckets["actual"].round(2).tolist())
    assert traces["without the incident (expected)"]["y"] == pytest.approx(imp.cf.buckets["expected"].round(2).tolist())
    assert "95% interval" in traces
    rec = figure(at, "roi_recovery_chart")["data"][0]
    assert rec["x"] == pytest.approx([v for v in imp.to_json()["recovery_minutes"].values() if v is not None])
    sen = figure(at, "roi_sentiment_chart")["data"][0]
    assert len(sen["y"]) == len(imp.sentiment_series)
    if imp.comments:
        shown_comments = table(at, "comment")
        assert len(shown_comments) == imp.comments
        assert shown_comments["score"].is_monotonic_increasing
    assert any("Controls: " in c.value and "signup" in c.value for c in at.caption)


def test_incident_roi_page_estimates_any_window(roi_app_store):
    at = open_page("ui/pages/roi_incident.py", {"flow": "withdrawal"})
    assert at.radio(key="roi_mode").value == "Any window of a flow"
    assert at.selectbox(key="roi_flow").value == "withdrawal"
    import datetime as dt
    at.date_input(key="roi_start_date").set_value(dt.date(2026, 8, 28))
    at.time_input(key="roi_start_time").set_value(dt.time(9))
    at.date_input(key="roi_end_date").set_value(dt.date(2026, 8, 28))
    at.time_input(key="roi_end_time").set_value(dt.time(15)).run()
    assert not at.exception
    imp = roi.estimate(runtime.store(), flow="withdrawal", start=dt.datetime(2026, 8, 28, 9),
                       end=dt.datetime(2026, 8, 28, 15))
    assert metrics(at)["Lost conversions"] == f"{imp.cf.lost:,.0f}"
    assert imp.cf.lost > 0


def test_quarter_page_ranks_incidents_and_offers_the_report(roi_app_store):
    at = open_page("ui/pages/roi_quarter.py", {"quarter": "2026Q3"})
    store = runtime.store()
    s = quarter.summarize(store, "2026Q3", now=newest_event(store))
    t = s.totals
    shown = metrics(at)
    assert shown["Total incident cost"] == roi.money(t["total_cost"])
    assert shown["Incidents"] == "3"
    assert shown["Cost per incident hour"] == roi.money(t["cost_per_hour"])
    assert shown["MTTD"] == f"{t['mttd_min'] / 60:.1f} h"
    ranked = figure(at, "quarter_ranked_chart")["data"][0]
    assert ranked["x"] == pytest.approx(sorted(s.incidents["total_cost"].round(0).tolist()))
    assert list(table(at, "#")["#"]) == list(s.incidents["id"])
    trend = figure(at, "quarter_trend_chart")["data"]
    assert trend[0]["x"] == ["2026-07", "2026-08", "2026-09"]
    labels = [b.label for b in at.get("download_button")]
    assert "Download the board report (HTML)" in labels and "Download the board report (PDF)" in labels


def test_quarter_page_without_incidents(roi_app_store):
    at = open_page("ui/pages/roi_quarter.py", {"quarter": "2026Q2"})
    assert any("No incident began in 2026Q2" in i.value for i in at.info)


def test_model_value_page(roi_app_store):
    at = open_page("ui/pages/roi_model_value.py", {"quarter": "2026Q3"})
    store = runtime.store()
    start, end = quarter.parse_quarter("2026Q3")
    v = quarter.model_value(store, start=start, end=min(end, newest_event(store)))
    labelled = v[v["labelled"] > 0]
    assert metrics(at)["Net value of the models"] == roi.money(float(labelled["net_value_usd"].sum()))
    chart = figure(at, "value_chart")
    assert chart["data"][0]["y"] == pytest.approx(labelled["fraud_prevented_usd"].round(0).tolist())
    at.number_input(key="value_fp_share").set_value(100.0).run()
    v100 = quarter.model_value(store, start=start, end=min(end, newest_event(store)), fp_lost_share=1.0)
    l100 = v100[v100["labelled"] > 0]
    assert metrics(at)["False positives' cost"] == roi.money(float(l100["false_positive_cost_usd"].sum()))
    assert any("personalised_ranking" in c.value for c in at.caption)


def test_budget_planner_outcome_save_and_compare(roi_app_store):
    at = open_page("ui/pages/roi_budget.py", {})
    store = runtime.store()
    measured = quarter.measured_baseline(store, now=newest_event(store))
    balanced = budget.preset("Balanced", 250_000.0)
    out = budget.outcome(measured, budget.DEFAULT_LEVERS, balanced.allocation)
    assert metrics(at)["Expected yearly incident loss"] == roi.money(out["expected_yearly_loss_usd"])
    assert metrics(at)["Net benefit"] == roi.money(out["net_benefit_usd"])
    # move money to monitoring and save under a name
    at.number_input(key="budget_amount_monitoring").set_value(90_000.0)
    at.number_input(key="budget_amount_retraining").set_value(10_000.0).run()
    at.text_input(key="budget_name").set_value("Monitoring first")
    next(b for b in at.button if b.label == "Save scenario").click().run()
    assert not at.exception
    saved = budget.get_scenario(store, "Monitoring first")
    assert saved is not None and saved.allocation["monitoring"] == 90_000.0 and saved.version == 1
    assert any("saved" in s.value for s in at.success)
    # an unbalanced allocation is refused with the reason
    at.number_input(key="budget_amount_frontend").set_value(999_999.0).run()
    assert any("not the total" in w.value for w in at.warning)


def test_budget_planner_editable_levers_change_the_outcome(roi_app_store):
    at = open_page("ui/pages/roi_budget.py", {})
    before = metrics(at)["Expected yearly incident loss"]
    at.number_input(key="budget_b_incidents_per_year").set_value(100.0).run()
    after = metrics(at)["Expected yearly incident loss"]
    assert before != after
    store = runtime.store()
    measured = quarter.measured_baseline(store, now=newest_event(store))
    b = budget.Baseline(**{**measured.__dict__, "incidents_per_year": 100.0})
    out = budget.outcome(b, budget.DEFAULT_LEVERS, budget.preset("Balanced", 250_000.0).allocation)
    assert after == roi.money(out["expected_yearly_loss_usd"])


def test_budget_planner_shares_and_presets(roi_app_store):
    at = open_page("ui/pages/roi_budget.py", {})
    assert at.selectbox(key="budget_pick").value == "Balanced"
    at.selectbox(key="budget_pick").set_value("Model R&D heavy").run()
    assert at.number_input(key="budget_amount_retraining").value == 200_000.0
    at.toggle(key="budget_shares").set_value(True).run()
    assert at.number_input(key="budget_share_retraining").value == pytest.approx(80.0)
    at.number_input(key="budget_share_retraining").set_value(70.0)
    at.number_input(key="budget_share_monitoring").set_value(10.0).run()
    assert not [w for w in at.warning if "sum" in w.value]
    at.toggle(key="budget_shares").set_value(False).run()
    assert at.number_input(key="budget_amount_retraining").value == pytest.approx(175_000.0)
    assert at.number_input(key="budget_amount_monitoring").value == pytest.approx(25_000.0)
