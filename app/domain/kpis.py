"""The war room's KPI tiles: values over a window, the same window a week earlier, alert state."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from app.domain import metrics
from app.store import queries
from app.store.db import Store
from app.store.schema import LATENCY_EDGES_MS

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class KpiDef:
    key: str
    label: str
    unit: str  # rate | ms | per_hour | score
    higher_is_bad: bool
    tile_hours: int = 1  # the war-room tile's window (sparse series get a longer one)


KPIS: tuple[KpiDef, ...] = (
    KpiDef("false_positive_rate", "False-positive rate", "rate", True),
    KpiDef("decline_rate", "Decline rate", "rate", True),
    KpiDef("review_rate", "Manual-review rate", "rate", True),
    KpiDef("latency_p95_ms", "Model latency p95", "ms", True),
    KpiDef("conversion", "Conversion", "rate", False),
    KpiDef("bounce_rate", "Bounce", "rate", True),
    KpiDef("tickets_per_hour", "Tickets per hour", "per_hour", True),
    KpiDef("survey_score", "Survey score (24 h)", "score", False, tile_hours=24),
)
KPI_BY_KEY = {k.key: k for k in KPIS}


def values(sums: dict, *, hours: float, latency_edges) -> dict[str, float]:
    """Every KPI's value from a window's sums (queries.window_sums)."""
    return {
        "false_positive_rate": metrics.false_positive_rate(sums["n_false_positive"], sums["n_legit"]),
        "decline_rate": metrics.decline_rate(sums["n_decline"], sums["n"]),
        "review_rate": metrics.review_rate(sums["n_review"], sums["n"]),
        "latency_p95_ms": metrics.percentile_from_histogram(sums["lat_hist"], latency_edges, 0.95,
                                                            max_value=sums["latency_max"]),
        "conversion": metrics.conversion(sums["n_complete"], sums["n_start"]),
        "bounce_rate": metrics.bounce_rate(sums["n_view"], sums["n_start"]),
        "tickets_per_hour": metrics.tickets_per_hour(sums["n_tickets"], hours),
        "survey_score": metrics.mean_score(sums["survey_score_sum"], sums["n_surveys"]),
    }


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: float
    baseline: float
    text: str  # the value, formatted
    delta: str | None  # change against the baseline, formatted; None without a baseline
    delta_color: str  # "inverse" when a rise is bad, "off" when unchanged (Streamlit's metric colours)
    alert: str  # "firing" or "ok"

    @property
    def delta_arrow(self) -> str:
        return "off" if self.delta_color == "off" else "auto"


def fmt(kpi: KpiDef, v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if kpi.unit == "rate":
        return f"{100 * v:.2f}%"
    if kpi.unit == "ms":
        return f"{v:.0f} ms"
    if kpi.unit == "per_hour":
        return f"{v:.1f}"
    return f"{v:.1f} / 10"


def fmt_delta(kpi: KpiDef, now: float, before: float) -> str | None:
    if any(x is None or (isinstance(x, float) and math.isnan(x)) for x in (now, before)):
        return None
    d = now - before
    if kpi.unit == "rate":
        return f"{100 * d:+.2f} pts vs last week"
    if kpi.unit == "ms":
        return f"{d:+.0f} ms vs last week"
    if kpi.unit == "per_hour":
        return f"{d:+.1f} vs last week"
    return f"{d:+.1f} vs last week"


def alert_states(firing: pd.DataFrame, flow: str) -> set[str]:
    """KPI keys with a firing alert on this flow (a rule without a flow filter counts for every flow)."""
    keys = set()
    for _, row in firing.iterrows():
        try:
            filters = json.loads(row["filters"] or "{}")
        except ValueError:
            filters = {}
        if filters.get("flow") in (None, flow):
            keys.add(row["metric"])
    return keys


def tiles(now_values: dict[str, float], before_values: dict[str, float], firing_keys: set[str]) -> list[Tile]:
    out = []
    for k in KPIS:
        v, b = now_values[k.key], before_values[k.key]
        delta = fmt_delta(k, v, b)
        unchanged = delta is not None and set(delta.split()[0].lstrip("+-")) <= {"0", "."}
        color = "off" if unchanged else ("inverse" if k.higher_is_bad else "normal")
        out.append(Tile(k.key, k.label, v, b, fmt(k, v), delta, color, "firing" if k.key in firing_keys else "ok"))
    return out


def tile_windows(*, end: datetime, length: timedelta = timedelta(hours=1)) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """The tile window (the last hour up to `end`) and the same window one week earlier."""
    return (end - length, end), (end - length - WEEK, end - WEEK)


def window_values(store: Store, seg: queries.Segment, *, start: datetime, end: datetime) -> dict[str, float]:
    """Every KPI's value for one segment over [start, end)."""
    hours = (end - start).total_seconds() / 3600
    return values(queries.window_sums(store, seg, start=start, end=end), hours=hours, latency_edges=LATENCY_EDGES_MS)


def tile_values(store: Store, seg: queries.Segment, *, end: datetime) -> tuple[dict[str, float], dict[str, float]]:
    """The tiles' values up to `end` and one week earlier, each KPI over its tile's window."""
    now, before = {}, {}
    for hours in sorted({k.tile_hours for k in KPIS}):
        (a0, a1), (b0, b1) = tile_windows(end=end, length=timedelta(hours=hours))
        cur = window_values(store, seg, start=a0, end=a1)
        old = window_values(store, seg, start=b0, end=b1)
        for k in KPIS:
            if k.tile_hours == hours:
                now[k.key], before[k.key] = cur[k.key], old[k.key]
    return now, before
