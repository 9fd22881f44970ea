import math

import pandas as pd
import pytest

from app.domain import metrics as m


def test_rates_on_hand_computed_counts():
    # 200 legitimate labelled decisions, 6 of them declined and 4 sent to review.
    assert m.false_positive_rate(10, 200) == pytest.approx(0.05)
    assert m.decline_rate(12, 240) == pytest.approx(0.05)
    assert m.review_rate(6, 240) == pytest.approx(0.025)
    assert m.fraud_catch_rate(9, 10) == pytest.approx(0.9)
    # 1000 sessions started, 90 completed: the 9% deposit conversion.
    assert m.conversion(90, 1000) == pytest.approx(0.09)
    # 1400 viewed, 1000 started: 400 bounced.
    assert m.bounce_rate(1400, 1000) == pytest.approx(400 / 1400)
    assert m.bounce_rate(10, 12) == 0.0
    assert m.tickets_per_hour(36, 12) == 3.0
    assert m.median([3600, 7200, 60, None]) == 3600
    assert m.mean_score(42, 6) == 7.0
    # 10 responses: 5 promoters (9-10), 3 passives, 2 detractors (0-6): NPS = 30.
    assert m.nps(5, 2, 10) == pytest.approx(30.0)


def test_no_data_is_nan_not_zero():
    assert math.isnan(m.false_positive_rate(0, 0))
    assert math.isnan(m.conversion(3, 0))
    assert math.isnan(m.median([]))
    assert m.pct(math.nan) == "—"
    assert m.pct(0.0912, 2) == "9.12%"


def test_series_rates_keep_nan_for_empty_buckets():
    df = pd.DataFrame({"n_false_positive": [1, 0], "n_legit": [20, 0], "n_decline": [2, 0], "n": [25, 0],
                       "n_review": [1, 0]})
    out = m.add_decision_rates(df)
    assert out["false_positive_rate"].iloc[0] == pytest.approx(0.05)
    assert math.isnan(out["false_positive_rate"].iloc[1])
    assert out["decline_rate"].iloc[0] == pytest.approx(0.08)


def test_percentile_from_histogram():
    edges = [10, 20, 50]
    # 10 values in [0,10], 10 in (10,20], 0 in (20,50], 0 above.
    assert m.percentile_from_histogram([10, 10, 0, 0], edges, 0.5) == pytest.approx(10.0)
    assert m.percentile_from_histogram([10, 10, 0, 0], edges, 0.75) == pytest.approx(15.0)
    assert m.percentile_from_histogram([0, 0, 0, 4], edges, 0.5, max_value=90) == pytest.approx(70.0)
    assert math.isnan(m.percentile_from_histogram([0, 0, 0, 0], edges, 0.5))
