"""Streaming anomaly detectors for any regularly sampled metric.

Each detector maps a series to scores in [0, 1], strictly causally: the score of
row t uses rows up to t only (a test checks that scoring a prefix gives the same
scores). A score of 0.5 or more is an alert by default. Scores come from a robust
z-value (distance from a baseline in units of 1.4826 x median absolute
deviation, or the standard deviation where that is larger), mapped by
z^2 / (z^2 + 16), so z = 4 is 0.5 and the score saturates towards 1.

- `robust_z`: baseline = median of the trailing window (default 60 samples).
- `ewma`: exponentially weighted mean and deviation (alpha 0.05).
- `seasonal`: learns the daily and weekly shape: the baseline is the median of
  the values at the same time of day on the previous days (up to 7) blended
  with the same time of week on previous weeks (up to 4) once available, plus
  the recent level shift; the spread is the MAD of recent residuals. Falls back
  to `robust_z` until a day of history exists.
- `binomial` (`binomial(k, n)`, for rates of counted events): how unlikely the
  last 3 samples' k/n is under the previous day's rate; used by anomaly rules on
  rate metrics, whose per-minute values are too sparse for the z-scores.
- `seasonal_robust` (default): the larger of `seasonal` and a fast `robust_z`
  over 30 samples (alerting at z = 6), so sudden steps are caught within
  minutes while the daily rhythm does not alarm.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

Z_HALF = 4.0
MIN_MAD_FRACTION = 0.02  # spread floor, as a share of the baseline's magnitude


def _score(z: np.ndarray | float) -> np.ndarray | float:
    z2 = np.square(z)
    return z2 / (z2 + Z_HALF ** 2)


def _mad(values: np.ndarray, center: float) -> float:
    """Robust spread: 1.4826 x MAD, but never below the plain standard deviation
    (a zero-inflated series, like a per-minute rate of rare events, has MAD 0)."""
    return max(1.4826 * float(np.median(np.abs(values - center))), float(np.std(values)))


def _floor(spread: float, level: float, global_floor: float) -> float:
    return max(spread, MIN_MAD_FRACTION * abs(level), global_floor)


def infer_step(ts: np.ndarray) -> float:
    """The series' sampling interval in seconds (median of the gaps)."""
    if len(ts) < 2:
        return 60.0
    d = np.diff(ts.astype("datetime64[s]").astype(np.int64))
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 60.0


def _global_floor(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return 1e-9 if not len(finite) else 1e-6 * (float(np.max(np.abs(finite))) + 1e-9)


def robust_z(values: np.ndarray, ts: np.ndarray | None = None, *, window: int = 60, damp: float = 1.0) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    out = np.zeros(len(x))
    floor = _global_floor(x)
    hist: deque[float] = deque(maxlen=window)
    for i, v in enumerate(x):
        if not np.isfinite(v):
            continue
        if len(hist) >= max(5, window // 4):
            h = np.fromiter(hist, float)
            med = float(np.median(h))
            spread = _floor(_mad(h, med), med, floor)
            out[i] = _score((v - med) / spread / damp)
        hist.append(v)
    return out


def ewma(values: np.ndarray, ts: np.ndarray | None = None, *, alpha: float = 0.05, warmup: int = 20) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    out = np.zeros(len(x))
    floor = _global_floor(x)
    mean, var, n = None, 0.0, 0
    for i, v in enumerate(x):
        if not np.isfinite(v):
            continue
        if mean is None:
            mean = v
        else:
            if n >= warmup:
                sd = _floor(np.sqrt(var), mean, floor)
                out[i] = _score((v - mean) / sd)
            d = v - mean
            mean += alpha * d
            var = (1 - alpha) * (var + alpha * d * d)
        n += 1
    return out


def seasonal(values: np.ndarray, ts: np.ndarray, *, days: int = 7, weeks: int = 4, resid_window: int = 120) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    step = infer_step(np.asarray(ts))
    per_day = max(1, int(round(86400 / step)))
    per_week = per_day * 7
    out = np.zeros(len(x))
    fallback = robust_z(x, ts)
    floor = _global_floor(x)
    resid: deque[float] = deque(maxlen=resid_window)
    for i, v in enumerate(x):
        if not np.isfinite(v):
            continue
        same_day = [x[i - k * per_day] for k in range(1, days + 1) if i - k * per_day >= 0]
        same_day = [u for u in same_day if np.isfinite(u)]
        if len(same_day) < 1:
            out[i] = fallback[i]
            continue
        base = float(np.median(same_day))
        same_week = [x[i - k * per_week] for k in range(1, weeks + 1) if i - k * per_week >= 0]
        same_week = [u for u in same_week if np.isfinite(u)]
        if same_week:
            base = 0.5 * base + 0.5 * float(np.median(same_week))
        r = v - base
        if len(resid) >= 20:
            h = np.fromiter(resid, float)
            level = float(np.median(h))  # the recent shift against the seasonal shape
            spread = _floor(_mad(h, level), base, floor)
            out[i] = _score((r - level) / spread)
        else:
            out[i] = fallback[i]
        resid.append(r)
    return out


def seasonal_robust(values: np.ndarray, ts: np.ndarray) -> np.ndarray:
    # The fast step detector's z is damped by 1.5 (it alerts at z = 6): its 30-sample
    # spread estimate is noisy, and the seasonal part handles the subtle breaks.
    return np.maximum(seasonal(values, ts), robust_z(values, ts, window=30, damp=1.5))


def binomial(k: np.ndarray, n: np.ndarray, *, window: int = 3, baseline: int = 1440, p_floor: float = 1e-4,
             l_half: float = 8.0) -> np.ndarray:
    """For rates of counted events (k of n per sample: declines of decisions, completes of
    starts): how unlikely the last `window` samples' k/n is under the rate of the
    `baseline` samples before them, two-sided, normal approximation with continuity
    correction. Score = L / (L + 8) with L = -log10(p), so p = 1e-8 scores 0.5.
    Causal: sample t uses samples up to t."""
    import math

    k = np.nan_to_num(np.asarray(k, dtype=float))
    n = np.nan_to_num(np.asarray(n, dtype=float))
    ck, cn = np.concatenate([[0.0], np.cumsum(k)]), np.concatenate([[0.0], np.cumsum(n)])
    out = np.zeros(len(k))
    for t in range(len(k)):
        w0 = max(0, t + 1 - window)
        b0 = max(0, w0 - baseline)
        bn = cn[w0] - cn[b0]
        if bn < 50:  # not enough history to know the rate
            continue
        p0 = min(max((ck[w0] - ck[b0]) / bn, p_floor), 1 - p_floor)
        K, N = ck[t + 1] - ck[w0], cn[t + 1] - cn[w0]
        if N <= 0:
            continue
        sd = math.sqrt(N * p0 * (1 - p0))
        z = (abs(K - N * p0) - 0.5) / sd
        if z <= 0:
            continue
        pval = max(0.5 * math.erfc(z / math.sqrt(2)), 1e-300)
        L = -math.log10(pval)
        out[t] = L / (L + l_half)
    return out


@dataclass(frozen=True)
class Detector:
    name: str
    description: str
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]


DETECTORS: dict[str, Detector] = {d.name: d for d in (
    Detector("seasonal_robust", "daily/weekly seasonal baseline, plus a fast step detector (default)", seasonal_robust),
    Detector("seasonal", "median of the same time on previous days and weeks, robust residual z", seasonal),
    Detector("robust_z", "trailing 60-sample median and MAD", robust_z),
    Detector("ewma", "exponentially weighted mean and deviation", ewma),
)}
DEFAULT = "seasonal_robust"


def score(name: str, values, ts) -> np.ndarray:
    if name not in DETECTORS:
        raise KeyError(f"unknown detector {name!r}; expected one of: {', '.join(DETECTORS)}")
    s = DETECTORS[name].fn(np.asarray(values, dtype=float), np.asarray(ts))
    return np.clip(np.nan_to_num(s, nan=0.0), 0.0, 1.0)


def episodes(alerts: np.ndarray) -> int:
    """Number of alert episodes (rising edges)."""
    a = np.asarray(alerts, dtype=bool)
    return int(a[0]) + int(np.sum(a[1:] & ~a[:-1])) if len(a) else 0
