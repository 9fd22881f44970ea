"""What the war room shows, from store reads: windows, staleness, the chart's overlays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

WINDOWS: dict[str, tuple[timedelta, str]] = {
    "1h": (timedelta(hours=1), "1m"),
    "6h": (timedelta(hours=6), "5m"),
    "24h": (timedelta(hours=24), "15m"),
    "7d": (timedelta(days=7), "1h"),
}
BUCKET_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "1h": 60}


def parse_at(text: str | None) -> datetime | None:
    """The `at` query parameter (ISO time, UTC if no offset) as naive UTC, or None for live."""
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(tz=__import__("datetime").timezone.utc).replace(tzinfo=None)
    return dt


@dataclass(frozen=True)
class Staleness:
    newest: datetime | None
    age_minutes: float | None
    stale: bool
    message: str | None


def staleness(*, newest: datetime | None, now: datetime, threshold_minutes: float) -> Staleness:
    if newest is None:
        return Staleness(None, None, True, "NO DATA: the store holds no decisions or funnel events yet.")
    age = (now - newest).total_seconds() / 60
    if age > threshold_minutes:
        return Staleness(newest, age, True,
                         f"DATA IS STALE: the newest event is {age:,.0f} minutes old "
                         f"(threshold {threshold_minutes:g} min). Check the feeds before trusting this screen.")
    return Staleness(newest, age, False, None)


def chart_range(*, end: datetime, window: str) -> tuple[datetime, datetime, str]:
    """[start, end) of the chart on whole buckets (the current bucket included), and its bucket."""
    length, bucket = WINDOWS[window]
    step = BUCKET_MINUTES[bucket]
    e = end.replace(second=0, microsecond=0)
    minutes = e.hour * 60 + e.minute
    e = e - timedelta(minutes=minutes % step) + timedelta(minutes=step)
    return e - length, e, bucket


def flag_markers(changes: pd.DataFrame) -> pd.DataFrame:
    """Flag-change rows as chart markers: label (short) and detail (what changed, who, why)."""
    rows = []
    for _, c in changes.iterrows():
        try:
            new = json.loads(c["new_state"])
            old = json.loads(c["old_state"])
        except (TypeError, ValueError):
            new, old = {}, {}
        short = {"throttle": f"throttle {new.get('percent', '?')}%", "kill": "kill switch",
                 "restore": f"restore {new.get('percent', '?')}%", "ramp": f"ramp {new.get('percent', '?')}%",
                 "rollback": f"rollback to {new.get('active_version', '?')}"}.get(c["action"], c["action"])
        rows.append({"changed_at": c["changed_at"], "label": f"{c['feature']}: {short}",
                     "detail": (f"{c['feature']} {c['action']}: {old.get('state', '?')} {old.get('percent', '')} -> "
                                f"{new.get('state', '?')} {new.get('percent', '')} by {c['actor']} ({c['reason']})")})
    return pd.DataFrame(rows, columns=["changed_at", "label", "detail"])


def feature_state_text(row) -> str:
    state = row["state"]
    if state == "throttled":
        return f"throttled to {row['percent']}% (rest to {row['fallback'].replace('_', ' ')})"
    if state == "off":
        return f"off: fallback {row['fallback'].replace('_', ' ')}"
    return "on"


def age_text(since: datetime, now: datetime) -> str:
    minutes = (now - since).total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"
