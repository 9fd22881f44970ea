import math
from datetime import datetime, timedelta

import pandas as pd
import pytest

from app.domain import drift, export, kpis, trends, warroom


def test_fit_recovers_an_exact_line_and_says_it_plainly():
    fp = pd.Series([0.01, 0.02, 0.05, 0.10, 0.15])
    conv = 0.09 - 0.4 * fp  # -0.4 points of conversion per point of FP
    f = trends.fit(fp, conv)
    assert f.slope == pytest.approx(-0.4) and f.intercept == pytest.approx(9.0)
    assert f.r == pytest.approx(-1.0) and f.slope_low == pytest.approx(-0.4) and f.slope_high == pytest.approx(-0.4)
    text = trends.elasticity_text(f, "deposit")
    assert text.startswith("Each +1 point of false-positive rate went with -0.40 points of deposit conversion")
    assert trends.fit(pd.Series([0.1, float("nan")]), pd.Series([0.1, 0.2])) is None


def test_fit_interval_covers_noisy_slope():
    import numpy as np
    rng = np.random.default_rng(0)
    fp = pd.Series(rng.uniform(0, 0.2, 300))
    conv = 0.09 - 0.3 * fp + rng.normal(0, 0.01, 300)
    f = trends.fit(fp, conv)
    assert f.slope_low < -0.3 < f.slope_high and f.n == 300


def test_t_quantile_matches_tables():
    assert trends.t_quantile(0.975, 10) == pytest.approx(2.228, abs=0.01)
    assert trends.t_quantile(0.975, 30) == pytest.approx(2.042, abs=0.003)
    assert trends.t_quantile(0.975, 10_000) == pytest.approx(1.960, abs=0.001)


def test_grain_keeps_traces_under_the_point_limit():
    s = datetime(2026, 1, 1)
    assert trends.choose_grain(s, s + timedelta(hours=24), "minute") == "minute"  # 1440 points
    assert trends.choose_grain(s, s + timedelta(days=7), "minute") == "hour"  # 10080 would be too many
    assert trends.choose_grain(s, s + timedelta(days=400), "hour") == "day"


def test_breakdown_worst_first_and_period_labels():
    counts = pd.DataFrame({"platform": ["web", "ios", "android"], "region": ["eu", "eu", "us"],
                           "n": [100, 100, 100], "n_legit": [100, 100, 100], "n_false_positive": [2, 20, 5],
                           "n_decline": [1, 10, 2], "n_review": [1, 10, 3], "n_view": [300] * 3,
                           "n_start": [200] * 3, "n_complete": [18, 6, 12]})
    out = trends.breakdown(counts)
    assert list(out["platform"]) == ["ios", "android", "web"]
    buckets = pd.Series(pd.to_datetime(["2026-11-02 10:00", "2026-11-05 10:00", "2026-11-09 10:00"]))
    assert list(trends.label_periods(buckets, pd.DataFrame())) == ["week of 2026-11-02", "week of 2026-11-02",
                                                                   "week of 2026-11-09"]
    inc = pd.DataFrame([{"id": 3, "title": "crash", "began": pd.Timestamp("2026-11-04"), "resolved_at": pd.NaT}])
    assert list(trends.label_periods(buckets, inc)) == ["no incident", "incident #3: crash", "incident #3: crash"]


def test_psi_and_js_distance_on_hand_made_histograms():
    same = [10, 20, 30, 40]
    assert drift.psi(same, same) == 0.0 and drift.js_distance(same, same) == 0.0
    # shares 0.5/0.5 vs 0.9/0.1: PSI = 0.4 ln(1.8) + (-0.4) ln(0.2)
    assert drift.psi([50, 50], [90, 10]) == pytest.approx(0.4 * math.log(1.8) - 0.4 * math.log(0.2))
    assert drift.js_distance([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint: maximal in base 2
    assert math.isnan(drift.psi([0, 0], [1, 1]))


def test_csv_export_escapes_formula_cells_and_parquet_round_trips(tmp_path):
    df = pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "plain"], "v": [1, 2, 3, 4, 5]})
    text = export.csv_bytes(df).decode()
    assert text.splitlines()[1:] == ["'=cmd|' /C calc'!A0,1", "'+1,2", "'-2,3", "'@SUM(A1),4", "plain,5"]
    back = pd.read_parquet(__import__("io").BytesIO(export.parquet_bytes(df)))
    assert back.equals(df)


def test_tiles_and_alert_states():
    now = {k.key: 0.1 for k in kpis.KPIS}
    before = {k.key: 0.05 for k in kpis.KPIS}
    firing = pd.DataFrame([{"metric": "false_positive_rate", "filters": '{"flow": "deposit"}'},
                           {"metric": "conversion", "filters": '{"flow": "trade"}'}])
    states = kpis.alert_states(firing, "deposit")
    assert states == {"false_positive_rate"}
    t = {x.key: x for x in kpis.tiles(now, before, states)}
    assert t["false_positive_rate"].text == "10.00%" and t["false_positive_rate"].delta == "+5.00 pts vs last week"
    assert t["false_positive_rate"].alert == "firing" and t["conversion"].alert == "ok"
    assert t["latency_p95_ms"].text == "0 ms" and t["survey_score"].text == "0.1 / 10"
    assert t["conversion"].delta_color == "normal" and t["decline_rate"].delta_color == "inverse"
    flat = {x.key: x for x in kpis.tiles(now, now, set())}
    assert flat["conversion"].delta == "+0.00 pts vs last week" and flat["conversion"].delta_color == "off"
    assert flat["conversion"].delta_arrow == "off" and t["conversion"].delta_arrow == "auto"


def test_staleness_chart_range_and_markers():
    now = datetime(2026, 12, 4, 10, 7, 30)
    assert not warroom.staleness(newest=now - timedelta(minutes=4), now=now, threshold_minutes=5).stale
    s = warroom.staleness(newest=now - timedelta(minutes=42), now=now, threshold_minutes=5)
    assert s.stale and s.message.startswith("DATA IS STALE: the newest event is 42 minutes old")
    assert warroom.staleness(newest=None, now=now, threshold_minutes=5).message.startswith("NO DATA")
    assert warroom.chart_range(end=now, window="6h") == (datetime(2026, 12, 4, 4, 10), datetime(2026, 12, 4, 10, 10), "5m")
    assert warroom.chart_range(end=now, window="7d")[1] == datetime(2026, 12, 4, 11, 0)
    changes = pd.DataFrame([{"changed_at": now, "feature": "deposit_fraud_check", "action": "throttle",
                             "old_state": '{"state": "on", "percent": 100}',
                             "new_state": '{"state": "throttled", "percent": 20}', "actor": "ana",
                             "reason": "FP spike"}])
    m = warroom.flag_markers(changes)
    assert m["label"].iloc[0] == "deposit_fraud_check: throttle 20%"
    assert m["detail"].iloc[0] == "deposit_fraud_check throttle: on 100 -> throttled 20 by ana (FP spike)"
    assert warroom.parse_at("2026-11-28T14:00:00+02:00") == datetime(2026, 11, 28, 12, 0)
