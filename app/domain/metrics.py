"""Metric definitions: the one place that says what each number means.

Every function takes counts (as the store's rollups and queries return them) and
returns rates; no SQL, no Streamlit. A rate whose denominator is zero is NaN
("no data"), never 0.

- false-positive rate = legitimate decisions that were declined or sent to
  review / legitimate decisions with a known label (is_fraud = false)
- decline rate = declined decisions / all decisions
- manual-review rate = decisions sent to review / all decisions
- fraud catch rate = fraudulent decisions declined or reviewed / decisions known to be fraud
- latency p50 / p95 / p99 = percentiles of model latency, from the rollups'
  latency histogram (linear inside a bucket; exact at bucket edges)
- conversion (per flow) = sessions that complete / sessions that start
  (complete events / start events; one event per session and step)
- bounce = sessions that viewed the flow but did not start it / sessions that
  viewed ((view - start) / view, floored at 0)
- tickets per hour = tickets opened / hours in the window
- median resolution time = median of (resolved_at - opened_at) over tickets
  opened in the window and resolved
- mean survey score = mean of 0..10 responses; NPS = 100 x (promoters 9-10 -
  detractors 0-6) / responses
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd


def ratio(num, den):
    """num / den elementwise, NaN where den is 0 (works on scalars and Series)."""
    if isinstance(den, pd.Series):
        return pd.Series(num, index=den.index, dtype="float64") / den.astype("float64").where(den != 0)
    if isinstance(num, pd.Series):
        return num.astype("float64") / float(den) if den else num.astype("float64") * math.nan
    return float(num) / float(den) if den else math.nan


def false_positive_rate(n_false_positive, n_legit):
    return ratio(n_false_positive, n_legit)


def decline_rate(n_decline, n):
    return ratio(n_decline, n)


def review_rate(n_review, n):
    return ratio(n_review, n)


def fraud_catch_rate(n_fraud_caught, n_fraud):
    return ratio(n_fraud_caught, n_fraud)


def conversion(n_complete, n_start):
    return ratio(n_complete, n_start)


def bounce_rate(n_view, n_start):
    if isinstance(n_view, pd.Series):
        return ratio((n_view - n_start).clip(lower=0), n_view)
    return ratio(max(float(n_view) - float(n_start), 0.0), n_view)


def tickets_per_hour(n_opened: float, hours: float) -> float:
    return float(n_opened) / hours if hours > 0 else math.nan


def median(values: Sequence[float]) -> float:
    arr = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                     dtype=float)
    return float(np.median(arr)) if arr.size else math.nan


def mean_score(score_sum, n):
    return ratio(score_sum, n)


def nps(n_promoters, n_detractors, n):
    return 100.0 * ratio(n_promoters - n_detractors, n)


def percentile_from_histogram(counts: Sequence[float], edges: Sequence[float], q: float,
                              max_value: float | None = None) -> float:
    """The q-quantile (0..1) of values binned as counts over (edges[i-1], edges[i]].

    Bucket 0 is [0, edges[0]], the last bucket is (edges[-1], max_value]. Linear
    interpolation inside the bucket that holds the rank; NaN with no values.
    """
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if total <= 0:
        return math.nan
    rank = q * total
    cum = np.cumsum(counts)
    i = int(np.searchsorted(cum, rank, side="left"))
    i = min(i, len(counts) - 1)
    lo = 0.0 if i == 0 else float(edges[i - 1])
    if i < len(edges):
        hi = float(edges[i])
    else:
        hi = float(max_value) if max_value is not None and max_value > lo else lo * 2
    before = cum[i - 1] if i > 0 else 0.0
    inside = counts[i]
    frac = (rank - before) / inside if inside > 0 else 0.0
    return lo + (hi - lo) * min(max(frac, 0.0), 1.0)


def add_decision_rates(df: pd.DataFrame) -> pd.DataFrame:
    """Add rate columns to a frame of decision counts (rollup columns)."""
    out = df.copy()
    out["false_positive_rate"] = false_positive_rate(out["n_false_positive"], out["n_legit"])
    out["decline_rate"] = decline_rate(out["n_decline"], out["n"])
    out["review_rate"] = review_rate(out["n_review"], out["n"])
    return out


def add_funnel_rates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["conversion"] = conversion(out["n_complete"], out["n_start"])
    out["bounce_rate"] = bounce_rate(out["n_view"], out["n_start"])
    return out


def pct(value: float, digits: int = 1) -> str:
    """A rate as a percentage string, or an em dash for no data."""
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.{digits}f}%"
