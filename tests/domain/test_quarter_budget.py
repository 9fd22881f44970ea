"""The quarter summary, model value and budget planner on the simulated ROI store."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from app.domain import budget, incidents, quarter
from app.domain.auth import Actor, PermissionDenied
from app.sim.history import RESPONDER
from app.store.db import utcnow


def test_parse_quarter_and_recent_quarters():
    assert quarter.parse_quarter("2026Q3") == (datetime(2026, 7, 1), datetime(2026, 10, 1))
    assert quarter.parse_quarter("2026q4") == (datetime(2026, 10, 1), datetime(2027, 1, 1))
    assert quarter.parse_quarter("2027-Q1") == (datetime(2027, 1, 1), datetime(2027, 4, 1))
    for bad in ("2026Q5", "Q3", "2026"):
        with pytest.raises(ValueError, match="expected the form 2026Q3"):
            quarter.parse_quarter(bad)
    assert quarter.recent_quarters(datetime(2026, 2, 3), 3) == ["2026Q1", "2025Q4", "2025Q3"]
    assert quarter.quarter_of(datetime(2026, 9, 30)) == "2026Q3"


def test_quarter_summary_ranks_and_totals(roi_store):
    s = quarter.summarize(roi_store, "2026Q3", now=utcnow())
    df = s.incidents
    assert len(df) == 3 and (df["note"] == "").all()
    assert list(df["total_cost"]) == sorted(df["total_cost"], reverse=True)
    t = s.totals
    assert t["total_cost"] == pytest.approx(df["total_cost"].sum())
    assert t["total_cost"] == pytest.approx(t["lost_revenue"] + t["ticket_cost"])
    assert t["cost_per_hour"] == pytest.approx(t["total_cost"] / df["hours"].sum())
    assert t["mttd_min"] == pytest.approx(df["time_to_detect_min"].mean())
    for row in df.itertuples():
        imp = s.impacts[row.id][0]
        assert row.lost_revenue == pytest.approx(imp.lost_revenue[0])
        assert row.total_cost_lower <= row.total_cost <= row.total_cost_upper
    m = s.monthly()
    assert list(m["month"]) == ["2026-07", "2026-08", "2026-09"]
    assert list(m["incidents"]) == [0, 2, 1]
    assert math.isnan(m["mttd_min"][0])


def test_an_incident_on_two_flows_costs_both(roi_store):
    iid = incidents.create(roi_store, actor=RESPONDER, title="two flows", severity="SEV2",
                           flows=["deposit", "trade"], features=[], started_at=datetime(2026, 8, 26, 6),
                           detected_at=datetime(2026, 8, 26, 7))
    incidents.set_times(roi_store, actor=RESPONDER, incident_id=iid, times={"resolved_at": datetime(2026, 8, 26, 18)})
    s = quarter.summarize(roi_store, "2026Q3", now=utcnow())
    row = s.incidents.set_index("id").loc[iid]
    dep, tra = s.impacts[iid]
    assert (dep.flow, tra.flow) == ("deposit", "trade")
    assert row["flow"] == "deposit, trade"
    assert row["lost_revenue"] == pytest.approx(dep.lost_revenue[0] + tra.lost_revenue[0])
    assert row["total_cost"] == pytest.approx(dep.total_cost[0] + tra.total_cost[0])
    assert "trade" not in dep.cf.controls and "deposit" not in tra.cf.controls


def test_model_value_parts(roi_store):
    start, end = datetime(2026, 8, 1), datetime(2026, 9, 10)
    v = quarter.model_value(roi_store, start=start, end=end, fp_lost_share=0.5).set_index("feature")
    dep = v.loc["deposit_fraud_check"]
    assert dep["fraud_prevented_usd"] > 0 and dep["false_positives"] > 0
    assert dep["lost_conversions"] == pytest.approx(dep["false_positives"] * 0.5)
    assert dep["false_positive_cost_usd"] == pytest.approx(dep["lost_conversions"] * dep["avg_value_usd"] * 0.01)
    assert dep["net_value_usd"] == pytest.approx(dep["fraud_prevented_usd"] - dep["false_positive_cost_usd"])
    assert v.loc["loan_credit_model", "take_rate"] == 0.03
    assert v.loc["personalised_ranking", "labelled"] == 0 and "no fraud labels" in v.loc["personalised_ranking", "note"]
    with pytest.raises(ValueError, match="within 0..1"):
        quarter.model_value(roi_store, start=start, end=end, fp_lost_share=1.5)


BASE = budget.Baseline(incidents_per_year=10, loss_per_hour_usd=1000, hours_to_detect=2, hours_detect_to_mitigate=4,
                       hours_mitigate_to_resolve=10, residual_loss_share=0.1, support_cost_per_incident_usd=500)


def test_outcome_by_hand():
    none = budget.outcome(BASE, budget.DEFAULT_LEVERS, {})
    # 10 x (1000 x (2 + 4 + 0.1 x 10) + 500) = 75,000
    assert none["expected_yearly_loss_usd"] == pytest.approx(75_000)
    assert none["net_benefit_usd"] == 0 and math.isnan(none["return_per_dollar"])
    # $50,000 on monitoring: half of its 80% cut of detection time -> 2 h becomes 1.2 h
    out = budget.outcome(BASE, budget.DEFAULT_LEVERS, {"monitoring": 50_000})
    assert out["hours_to_detect"] == pytest.approx(1.2)
    assert out["expected_yearly_loss_usd"] == pytest.approx(10 * (1000 * (1.2 + 4 + 1) + 500))
    assert out["net_benefit_usd"] == pytest.approx(75_000 - out["expected_yearly_loss_usd"] - 50_000)
    # diminishing returns: doubling a line's spend never doubles its cut
    lv = budget.DEFAULT_LEVERS[0]
    assert lv.reduction(100_000) < 2 * lv.reduction(50_000) and lv.reduction(1e12) <= lv.max_reduction


def test_presets_and_allocation_checks():
    b = budget.preset("Model R&D heavy", 100_000)
    assert b.allocation["retraining"] == 80_000 and sum(b.allocation.values()) == pytest.approx(100_000)
    with pytest.raises(budget.BudgetError, match="sum to 100%"):
        budget.allocation_from_shares(100, {"monitoring": 0.5})
    with pytest.raises(budget.BudgetError, match=r"the lines sum to \$90, not the total of \$100"):
        budget.check_allocation(100, {"monitoring": 90})
    with pytest.raises(budget.BudgetError, match="unknown spending lines: ads"):
        budget.check_allocation(100, {"ads": 100})
    with pytest.raises(budget.BudgetError, match="monitoring: the maximum reduction"):
        budget.check_levers([budget.Lever("monitoring", "time_to_detect", 1.5, 10)])


def test_scenarios_save_load_conflict_delete(roi_store):
    admin, viewer = Actor("ana", "admin"), Actor("vic", "viewer")
    s = budget.Scenario(name="Monitoring first", total_usd=100_000,
                        allocation={"monitoring": 60_000, "response": 40_000}, baseline=BASE, note="board ask")
    saved = budget.save_scenario(roi_store, actor=admin, scenario=s, expected_version=0)
    assert saved.version == 1
    back = budget.get_scenario(roi_store, "Monitoring first")
    assert back.allocation["monitoring"] == 60_000 and back.allocation["frontend"] == 0.0
    assert back.baseline == BASE and back.levers == budget.DEFAULT_LEVERS and back.note == "board ask"
    budget.save_scenario(roi_store, actor=admin, scenario=s, expected_version=1)
    with pytest.raises(budget.BudgetError, match="changed by ana after you loaded it"):
        budget.save_scenario(roi_store, actor=admin, scenario=s, expected_version=1)
    with pytest.raises(budget.BudgetError, match="already exists"):
        budget.save_scenario(roi_store, actor=admin, scenario=s, expected_version=0)
    with pytest.raises(PermissionDenied):
        budget.save_scenario(roi_store, actor=viewer, scenario=s)
    with pytest.raises(budget.BudgetError, match="not the total"):
        budget.save_scenario(roi_store, actor=admin, scenario=budget.Scenario("bad", 10, {"monitoring": 5}))
    assert [x.name for x in budget.scenarios(roi_store)] == ["Monitoring first"]
    table = budget.compare(BASE, budget.scenarios(roi_store))
    assert table.loc[0, "spend_monitoring"] == 60_000
    budget.delete_scenario(roi_store, actor=admin, name="Monitoring first")
    assert budget.scenarios(roi_store) == []


def test_measured_baseline_from_the_store(roi_store):
    b = quarter.measured_baseline(roi_store, now=utcnow())
    assert b.source.startswith("measured from 3 incident(s) over 4")  # 40 days of data
    assert b.incidents_per_year == pytest.approx(3 * 365 / 40, rel=0.01)
    assert b.hours_to_detect == pytest.approx((12 + 22 + 32) / 3 / 60)
    assert b.loss_per_hour_usd > 0 and 0 <= b.residual_loss_share <= 1



def test_planner_inputs_become_a_baseline_and_levers():
    same = budget.edited_baseline(BASE, {f: getattr(BASE, f) for f in budget.BASELINE_FIELDS})
    assert same == BASE
    more = budget.edited_baseline(BASE, {**{f: getattr(BASE, f) for f in budget.BASELINE_FIELDS},
                                         "incidents_per_year": 20})
    assert more.incidents_per_year == 20 and more.source == "edited on the planner"
    rows = [vars(lv) for lv in budget.DEFAULT_LEVERS]
    assert budget.levers_from_rows(rows) == budget.DEFAULT_LEVERS
    with pytest.raises(budget.BudgetError, match="every lever needs a number"):
        budget.levers_from_rows([{**rows[0], "max_reduction": None}])
    with pytest.raises(budget.BudgetError, match="the spend for half the effect"):
        budget.levers_from_rows([{**rows[0], "half_effect_usd": 0}])
