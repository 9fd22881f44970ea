"""Trends: granularity, the FP-vs-conversion fit and its plain-language elasticity,
period comparison and the worst-segments breakdown. Pure functions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from app.domain import metrics

GRAINS = {"minute": ("1m", timedelta(minutes=1)), "hour": ("1h", timedelta(hours=1)), "day": ("1d", timedelta(days=1))}
MAX_POINTS = 2000


def points(start: datetime, end: datetime, grain: str) -> int:
    return math.ceil((end - start) / GRAINS[grain][1])


def choose_grain(start: datetime, end: datetime, wanted: str | None = None, *, max_points: int = MAX_POINTS) -> str:
    """The wanted grain if it keeps each trace under max_points, else the finest one that does."""
    order = ["minute", "hour", "day"]
    if wanted in order and points(start, end, wanted) <= max_points:
        return wanted
    for g in order[order.index(wanted) if wanted in order else 0:]:
        if points(start, end, g) <= max_points:
            return g
    return "day"


def t_quantile(p: float, df: int) -> float:
    """Student-t quantile (Cornish-Fisher expansion around the normal; fine for df >= 3)."""
    # normal quantile by bisection on erf
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    z = (lo + hi) / 2
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


@dataclass(frozen=True)
class Fit:
    n: int
    slope: float  # conversion points per false-positive point
    intercept: float  # conversion (points) at 0% false positives
    r: float
    slope_low: float  # 95% interval
    slope_high: float


def fit(fp_rate: pd.Series, conversion: pd.Series) -> Fit | None:
    """Least-squares line of conversion on false-positive rate, both in percentage points."""
    df = pd.DataFrame({"x": fp_rate * 100, "y": conversion * 100}).dropna()
    n = len(df)
    if n < 3 or df["x"].std() == 0 or df["y"].std() == 0:
        return None
    x, y = df["x"].to_numpy(), df["y"].to_numpy()
    xm, ym = x.mean(), y.mean()
    sxx = ((x - xm) ** 2).sum()
    slope = ((x - xm) * (y - ym)).sum() / sxx
    intercept = ym - slope * xm
    resid = y - (intercept + slope * x)
    se = math.sqrt((resid ** 2).sum() / (n - 2) / sxx) if n > 2 else math.nan
    t = t_quantile(0.975, max(n - 2, 1))
    r = float(np.corrcoef(x, y)[0, 1])
    return Fit(n, float(slope), float(intercept), r, float(slope - t * se), float(slope + t * se))


def elasticity_text(f: Fit | None, flow: str) -> str:
    name = flow.replace("_", " ")
    if f is None:
        return f"Not enough buckets with both a false-positive rate and {name} conversion to fit a line."
    word = "fall" if f.slope < 0 else "rise"
    return (f"Each +1 point of false-positive rate went with {f.slope:+.2f} points of {name} conversion "
            f"(95% interval {f.slope_low:+.2f} to {f.slope_high:+.2f}; correlation {f.r:+.2f}; "
            f"{f.n} buckets): conversion tends to {word} as false positives rise.")


def label_periods(buckets: pd.Series, incidents: pd.DataFrame) -> pd.Series:
    """Colour key per bucket: the incident it falls in, else 'no incident'; with no incidents, its week."""
    b = pd.to_datetime(buckets)
    if incidents is None or incidents.empty:
        return ("week of " + (b - pd.to_timedelta(b.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")).astype(str)
    out = pd.Series(["no incident"] * len(b), index=b.index, dtype="object")
    for _, inc in incidents.iterrows():
        start = pd.Timestamp(inc["began"])
        end = pd.Timestamp(inc["resolved_at"]) if pd.notna(inc["resolved_at"]) else pd.Timestamp.max
        inside = (b >= start) & (b < end)
        out[inside] = f"incident #{inc['id']}: {inc['title']}"[:60]
    return out


def rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Add the decision and funnel rates to a frame of counts."""
    out = metrics.add_funnel_rates(metrics.add_decision_rates(counts))
    return out


def breakdown(counts: pd.DataFrame) -> pd.DataFrame:
    """Per (platform, region): rates, worst first (highest false-positive rate, then lowest conversion)."""
    out = rates(counts)
    out = out.sort_values(["false_positive_rate", "conversion"], ascending=[False, True], na_position="last")
    cols = ["platform", "region", "n", "false_positive_rate", "decline_rate", "review_rate", "n_start",
            "conversion", "bounce_rate"]
    return out[cols].reset_index(drop=True)


def compare(a: dict[str, float], b: dict[str, float]) -> pd.DataFrame:
    """Two periods' KPI values side by side with the change."""
    from app.domain.kpis import KPIS, fmt
    rows = []
    for k in KPIS:
        va, vb = a[k.key], b[k.key]
        change = va - vb if not (math.isnan(va) or math.isnan(vb)) else math.nan
        rows.append({"kpi": k.label, "key": k.key, "period_a": va, "period_b": vb, "change": change,
                     "period_a_text": fmt(k, va), "period_b_text": fmt(k, vb)})
    return pd.DataFrame(rows)


def comparison_windows(preset: str, *, end: datetime, incident: tuple[datetime, datetime] | None = None
                       ) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(period A, period B) for a preset: 'this week vs last week' or 'incident vs baseline'."""
    if preset == "incident vs baseline":
        if incident is None:
            raise ValueError("no incident chosen")
        s, e = incident
        return (s, e), (s - (e - s), s)
    week = timedelta(days=7)
    return (end - week, end), (end - 2 * week, end - week)


def latency_table(by_version: pd.DataFrame, edges, lat_cols) -> pd.DataFrame:
    """p50 / p95 / p99 latency per model version from the rollups' histograms."""
    rows = []
    for _, r in by_version.iterrows():
        hist = [r[c] for c in lat_cols]
        rows.append({"model_version": r["model_version"], "decisions": int(r["n"]),
                     **{f"p{q}": metrics.percentile_from_histogram(hist, edges, q / 100, max_value=r["latency_max"])
                        for q in (50, 95, 99)},
                     "first_seen": r["first_seen"], "last_seen": r["last_seen"]})
    return pd.DataFrame(rows, columns=["model_version", "decisions", "p50", "p95", "p99", "first_seen", "last_seen"])


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime


PRESETS = {"last 24 hours": timedelta(days=1), "last 7 days": timedelta(days=7), "last 30 days": timedelta(days=30)}


def preset_range(preset: str, *, now: datetime, newest: datetime | None) -> Range:
    """A preset range ending now, or at the newest event when nothing is that recent."""
    from app.domain.overview import chart_window
    w = chart_window(now=now, newest=newest, length=PRESETS[preset])
    return Range(w.start, w.end)


def view_table(counts: pd.DataFrame, periods: pd.Series) -> pd.DataFrame:
    """The exported view: one row per bucket with its counts, rates and period."""
    out = rates(counts)
    out.insert(1, "period", periods.values)
    return out
