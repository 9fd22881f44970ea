"""Score drift between a reference histogram and others: PSI and Jensen-Shannon distance."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

EPS = 1e-4


def _shares(counts: Sequence[float]) -> np.ndarray | None:
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    if total <= 0:
        return None
    return c / total


def psi(reference: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index: sum (a - r) ln(a / r) over buckets (shares floored at 1e-4).

    Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
    """
    r, a = _shares(reference), _shares(actual)
    if r is None or a is None:
        return math.nan
    r, a = np.maximum(r, EPS), np.maximum(a, EPS)
    return float(((a - r) * np.log(a / r)).sum())


def js_distance(reference: Sequence[float], actual: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1]): the square root of the JS divergence."""
    r, a = _shares(reference), _shares(actual)
    if r is None or a is None:
        return math.nan
    m = (r + a) / 2

    def kl(p, q):
        mask = p > 0
        return float((p[mask] * np.log2(p[mask] / q[mask])).sum())

    return math.sqrt(max(0.0, (kl(r, m) + kl(a, m)) / 2))


def drift_table(hist: pd.DataFrame, reference: Sequence[float], cols: Sequence[str]) -> pd.DataFrame:
    """Per bucket (a day): PSI and JS distance of its score histogram against the reference."""
    out = hist[["bucket"]].copy()
    out["n"] = hist[list(cols)].sum(axis=1).astype("int64")
    out["psi"] = [psi(reference, row) for row in hist[list(cols)].to_numpy()]
    out["js_distance"] = [js_distance(reference, row) for row in hist[list(cols)].to_numpy()]
    return out


def reference_and_current(ref: pd.DataFrame, days: pd.DataFrame, cols: Sequence[str], *, ref_start, ref_end):
    """Summed histograms of the reference window and the chosen range. With nothing in the
    reference window, the range's first day is the reference. Returns (reference, current,
    ref_start, ref_end)."""
    cols = list(cols)
    if ref[cols].to_numpy().sum() == 0 and len(days):
        ref, ref_start = days.iloc[:1], days["bucket"].iloc[0]
        ref_end = ref_start + pd.Timedelta(days=1)
    return ref[cols].sum().tolist(), days[cols].sum().tolist(), ref_start, ref_end
