from datetime import datetime, timezone

import pytest

from app.sim.generator import simulate
from app.store.db import Store
from app.store.ingest import ingest_tables

START = datetime(2026, 10, 1, tzinfo=timezone.utc)


def test_same_seed_same_rows_other_seed_other_rows():
    a, ta = simulate("decline-spike", START, 1, seed=5, scale=0.2)
    b, tb = simulate("decline-spike", START, 1, seed=5, scale=0.2)
    c, _ = simulate("decline-spike", START, 1, seed=6, scale=0.2)
    for kind in a:
        assert a[kind].equals(b[kind]), kind
    assert ta == tb
    assert not a["decisions"].equals(c["decisions"])


def _load(tmp_path, tables):
    s = Store(tmp_path / "s.duckdb")
    for kind, t in tables.items():
        r = ingest_tables(s, kind, [(kind, t)])
        assert r.rows_duplicate == 0, kind  # ids are unique
    return s


def _ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def test_crash_truth_matches_the_data(tmp_path, crash_data):
    tables, truth = crash_data
    inc = truth["incidents"][0]
    eff = inc["effects"]
    s = Store(tmp_path / "c.duckdb")
    for kind, t in tables.items():
        ingest_tables(s, kind, [(kind, t)])
    start, end = _ts(inc["start"]), _ts(inc["end"])
    q = ("SELECT sum(n_false_positive) / sum(n_legit) FROM rollup_decisions WHERE flow = 'deposit' "
         "AND minute >= ? AND minute < ?")
    before_fp = s.scalar(q, [_ts(truth["start"]), start])
    during_fp = s.scalar(q + " AND minute >= ? ", [start, end, start.replace() + (end - start) / 7])
    assert before_fp == pytest.approx(eff["deposit_false_positive_rate"]["baseline"], abs=0.006)
    assert during_fp == pytest.approx(eff["deposit_false_positive_rate"]["incident"], abs=0.02)
    cq = "SELECT sum(n_complete) / sum(n_start) FROM rollup_funnel WHERE flow = 'deposit' AND minute >= ? AND minute < ?"
    assert s.scalar(cq, [_ts(truth["start"]), start]) == pytest.approx(eff["deposit_conversion"]["baseline"], abs=0.006)
    last_day = s.scalar(cq, [end - (end - start) / 7, end])
    assert last_day == pytest.approx(eff["deposit_conversion"]["incident_end"], abs=0.008)
    tq = "SELECT sum(n_opened) / (epoch(?::TIMESTAMP) - epoch(?::TIMESTAMP)) FROM rollup_tickets WHERE flow = 'deposit' AND minute >= ? AND minute < ?"
    calm = s.scalar(tq, [start, _ts(truth["start"]), _ts(truth["start"]), start])
    crisis = s.scalar(tq, [end, start + (end - start) / 7, start + (end - start) / 7, end])
    assert 7.0 < crisis / calm < 13.0


def test_decline_spike_truth_matches_the_data(tmp_path):
    tables, truth = simulate("decline-spike", START, 3, seed=2, scale=0.5)
    inc = truth["incidents"][0]
    s = _load(tmp_path, tables)
    start, end = _ts(inc["start"]), _ts(inc["end"])
    q = ("SELECT sum(n_decline) / sum(n) FROM rollup_decisions WHERE flow = 'withdrawal' "
         "AND minute >= ? AND minute < ?")
    base = s.scalar(q, [_ts(truth["start"]), start])
    during = s.scalar(q, [start.replace(minute=start.minute) + (end - start) / 8, end])
    eff = inc["effects"]["withdrawal_decline_rate"]
    assert base == pytest.approx(eff["baseline"], abs=0.006)
    assert during == pytest.approx(eff["incident"], abs=0.03)
    versions = dict(s.fetchall("SELECT model_version, count(*) FROM decisions WHERE flow = 'withdrawal' "
                               "AND ts >= ? AND ts < ? GROUP BY 1", [start + (end - start) / 8, end]))
    assert set(versions) == {inc["effects"]["bad_version"]}
    after = s.fetchall("SELECT DISTINCT model_version FROM decisions WHERE flow = 'withdrawal' AND ts >= ?", [end])
    assert after == [(inc["effects"]["good_version"],)]


def test_lending_delay_cuts_completed_applications(tmp_path):
    tables, truth = simulate("lending-model-delay", START, 10, seed=4, scale=1.0)
    inc = truth["incidents"][0]
    s = _load(tmp_path, tables)
    start, end = _ts(inc["start"]), _ts(inc["end"])
    cq = ("SELECT sum(n_complete) / sum(n_start) FROM rollup_funnel WHERE flow = 'loan_application' "
          "AND minute >= ? AND minute < ?")
    base = s.scalar(cq, [_ts(truth["start"]), start])
    during = s.scalar(cq, [start + (end - start) / 8, end - (end - start) / 8])
    assert during / base == pytest.approx(1 + inc["effects"]["loan_application_completed_vs_counterfactual"], abs=0.07)


def test_labels_arrive_late_and_volatility_raises_traffic(crash_data):
    import pandas as pd
    tables, truth = crash_data
    end = pd.Timestamp(truth["end"])
    start = pd.Timestamp(truth["incidents"][0]["start"])
    dep = tables["decisions"].to_pandas()
    dep = dep[dep["flow"] == "deposit"]
    assert dep["ts"].max() < end
    last_minutes = dep[dep["ts"] >= end - pd.Timedelta(minutes=10)]
    first_day = dep[dep["ts"] < dep["ts"].min() + pd.Timedelta(days=1)]
    assert last_minutes["is_fraud"].isna().mean() > 0.6  # labels take ~30 min: most not in yet
    assert first_day["is_fraud"].isna().mean() == 0
    views = tables["funnel"].to_pandas()
    views = views[(views["step"] == "view") & (views["flow"] == "withdrawal")]
    calm = ((views["ts"] >= start - pd.Timedelta(days=3)) & (views["ts"] < start)).sum() / 3
    shock = ((views["ts"] >= start) & (views["ts"] < start + pd.Timedelta(days=1))).sum()
    assert shock > 1.5 * calm  # the volatility spike brings traffic to every flow
