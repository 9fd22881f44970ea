"""What the Overview page shows, computed from store reads (no SQL, no Streamlit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from app.domain import metrics

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    note: str | None  # set when the window is not "the last 24 hours"


def chart_window(*, now: datetime, newest: datetime | None, length: timedelta = WINDOW) -> Window:
    """The last `length` up to now; if the store has nothing that recent, up to its newest event.

    Both ends fall on whole minutes (the rollups' grain); the current minute is included.
    """
    def next_minute(t: datetime) -> datetime:
        return t.replace(second=0, microsecond=0) + timedelta(minutes=1)

    if newest is None or newest >= now - length:
        end = next_minute(now)
        return Window(end - length, end, None)
    end = next_minute(newest)
    return Window(end - length, end, "No events in the last 24 hours: showing the 24 hours up to the newest event.")


def align_up(t: datetime, minutes: int) -> datetime:
    """The first whole `minutes` boundary at or after t (so a chart has no partial first bucket)."""
    base = t.replace(second=0, microsecond=0)
    if base < t:
        base += timedelta(minutes=1)
    extra = (-(base.hour * 60 + base.minute)) % minutes
    return base + timedelta(minutes=extra)


@dataclass(frozen=True)
class FlowSummary:
    decisions: int
    false_positive_rate: float
    decline_rate: float
    review_rate: float
    sessions_started: int
    conversion: float
    bounce_rate: float


def summarize(totals: dict[str, int]) -> FlowSummary:
    return FlowSummary(
        decisions=totals["n"],
        false_positive_rate=metrics.false_positive_rate(totals["n_false_positive"], totals["n_legit"]),
        decline_rate=metrics.decline_rate(totals["n_decline"], totals["n"]),
        review_rate=metrics.review_rate(totals["n_review"], totals["n"]),
        sessions_started=totals["n_start"],
        conversion=metrics.conversion(totals["n_complete"], totals["n_start"]),
        bounce_rate=metrics.bounce_rate(totals["n_view"], totals["n_start"]),
    )


def series(counts: pd.DataFrame) -> pd.DataFrame:
    """Per-bucket rates for the FP-vs-conversion chart."""
    out = counts[["bucket"]].copy()
    out["false_positive_rate"] = metrics.false_positive_rate(counts["n_false_positive"], counts["n_legit"])
    out["conversion"] = metrics.conversion(counts["n_complete"], counts["n_start"])
    return out


def freshness_rows(df: pd.DataFrame, *, now: datetime) -> pd.DataFrame:
    """Freshness table with the age of each kind's newest event."""
    out = df.copy()
    out["age"] = [None if pd.isna(t) else _age(now - t.to_pydatetime()) for t in out["last_event"]]
    return out


def _age(delta: timedelta) -> str:
    s = delta.total_seconds()
    if s < 0:
        return "in the future"
    if s < 120:
        return f"{int(s)} s"
    if s < 7200:
        return f"{int(s // 60)} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"

