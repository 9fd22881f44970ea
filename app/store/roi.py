"""Reads behind the ROI pages: bucketed series aligned to an incident's start, per-feature
fraud and false-positive sums, survey comments, incidents in a period.

Buckets are `time_bucket(width, minute, origin)` with the origin at the incident's
start, so the first bucket of the incident window begins exactly when it began.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from app.store.db import Store
from app.store.queries import _check_range, _limit

WIDTHS_MINUTES = (15, 60, 1440)


def _width(minutes: int) -> str:
    if minutes not in WIDTHS_MINUTES:
        raise ValueError(f"bucket width must be one of {WIDTHS_MINUTES} minutes, not {minutes}")
    return f"INTERVAL '{int(minutes)} minutes'"


def funnel_buckets(store: Store, *, start: datetime, end: datetime, minutes: int, origin: datetime) -> pd.DataFrame:
    """Views, starts, completions and completed volume per (bucket, flow) over [start, end)."""
    _check_range(start, end)
    return store.query(
        f"SELECT time_bucket({_width(minutes)}, minute, ?::TIMESTAMP) AS bucket, flow, "
        "sum(n_view)::BIGINT AS n_view, sum(n_start)::BIGINT AS n_start, sum(n_complete)::BIGINT AS n_complete, "
        "sum(completed_usd)::DOUBLE AS completed_usd FROM rollup_funnel "
        "WHERE minute >= ? AND minute < ? GROUP BY ALL ORDER BY bucket, flow "
        f"LIMIT {_limit() * 10}", [origin, start, end])


def completed_amount_stats(store: Store, *, flow: str, start: datetime, end: datetime) -> tuple[int, float, float]:
    """(count, mean, standard deviation) of completed sessions' amounts for one flow over [start, end)."""
    _check_range(start, end)
    n, mean, sd = store.fetchall(
        "SELECT count(amount_usd), coalesce(avg(amount_usd), 0), coalesce(stddev_samp(amount_usd), 0) FROM funnel "
        "WHERE flow = ? AND step = 'complete' AND ts >= ? AND ts < ?", [flow, start, end])[0]
    return int(n), float(mean), float(sd)


def ticket_buckets(store: Store, *, flow: str, start: datetime, end: datetime, minutes: int,
                   origin: datetime) -> pd.DataFrame:
    """Tickets opened, resolved and their resolution seconds per bucket of opening, for one flow."""
    _check_range(start, end)
    return store.query(
        f"SELECT time_bucket({_width(minutes)}, minute, ?::TIMESTAMP) AS bucket, sum(n_opened)::BIGINT AS n_opened, "
        "sum(n_resolved)::BIGINT AS n_resolved, sum(resolution_s_sum)::DOUBLE AS resolution_s_sum "
        "FROM rollup_tickets WHERE flow = ? AND minute >= ? AND minute < ? GROUP BY ALL ORDER BY bucket "
        f"LIMIT {_limit()}", [origin, flow, start, end])


def survey_buckets(store: Store, *, flow: str, start: datetime, end: datetime, minutes: int,
                   origin: datetime) -> pd.DataFrame:
    """Survey responses, score sum, promoters and detractors per bucket, for one flow."""
    _check_range(start, end)
    return store.query(
        f"SELECT time_bucket({_width(minutes)}, minute, ?::TIMESTAMP) AS bucket, sum(n)::BIGINT AS n, "
        "sum(score_sum)::BIGINT AS score_sum, sum(n_promoters)::BIGINT AS n_promoters, "
        "sum(n_detractors)::BIGINT AS n_detractors FROM rollup_surveys "
        "WHERE flow = ? AND minute >= ? AND minute < ? GROUP BY ALL ORDER BY bucket "
        f"LIMIT {_limit()}", [origin, flow, start, end])


def survey_comments(store: Store, *, flow: str, start: datetime, end: datetime, limit: int = 200) -> pd.DataFrame:
    """Survey responses with a comment in [start, end), lowest score first, then oldest."""
    _check_range(start, end)
    return store.query(
        "SELECT ts, score, comment, source FROM surveys WHERE flow = ? AND ts >= ? AND ts < ? "
        "AND comment IS NOT NULL AND trim(comment) <> '' ORDER BY score, ts "
        f"LIMIT {min(int(limit), _limit())}", [flow, start, end])


def survey_comment_count(store: Store, *, flow: str, start: datetime, end: datetime) -> int:
    _check_range(start, end)
    return int(store.scalar("SELECT count(*) FROM surveys WHERE flow = ? AND ts >= ? AND ts < ? "
                            "AND comment IS NOT NULL AND trim(comment) <> ''", [flow, start, end]))


def feature_value_sums(store: Store, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Per ML feature over [start, end): decisions, labelled, fraud caught (count and amount), false positives."""
    _check_range(start, end)
    return store.query(
        "SELECT feature, any_value(flow) AS flow, sum(n)::BIGINT AS n, sum(n_labeled)::BIGINT AS n_labeled, "
        "sum(n_legit)::BIGINT AS n_legit, sum(n_fraud)::BIGINT AS n_fraud, "
        "sum(n_fraud_caught)::BIGINT AS n_fraud_caught, sum(fraud_amount_caught)::DOUBLE AS fraud_amount_caught, "
        "sum(n_false_positive)::BIGINT AS n_false_positive, sum(n_decline)::BIGINT AS n_decline, "
        "sum(n_review)::BIGINT AS n_review FROM rollup_decisions WHERE minute >= ? AND minute < ? "
        f"GROUP BY feature ORDER BY feature LIMIT {_limit()}", [start, end])


def incidents_started_between(store: Store, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Incidents that began (started_at, else detected_at, else created_at) in [start, end), with every time."""
    _check_range(start, end)
    return store.query(
        "SELECT * FROM incidents WHERE coalesce(started_at, detected_at, created_at) >= ? "
        "AND coalesce(started_at, detected_at, created_at) < ? "
        f"ORDER BY coalesce(started_at, detected_at, created_at) LIMIT {_limit()}", [start, end])


def incident_windows(store: Store, *, start: datetime, end: datetime) -> pd.DataFrame:
    """[began, resolved_at) of every incident overlapping [start, end): training data excludes them."""
    _check_range(start, end)
    return store.query(
        "SELECT id, flows, coalesce(started_at, detected_at, created_at) AS began, resolved_at FROM incidents "
        "WHERE coalesce(started_at, detected_at, created_at) < ? AND (resolved_at IS NULL OR resolved_at > ?) "
        f"ORDER BY began LIMIT {_limit()}", [end, start])


def flow_completed(store: Store, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Completions and completed volume per flow over [start, end)."""
    _check_range(start, end)
    return store.query("SELECT flow, sum(n_complete)::BIGINT AS n_complete, sum(completed_usd)::DOUBLE AS completed_usd "
                       f"FROM rollup_funnel WHERE minute >= ? AND minute < ? GROUP BY flow ORDER BY flow LIMIT {_limit()}",
                       [start, end])


def data_version(store: Store) -> tuple:
    """Changes whenever data, incidents or flags change (a cache key for the ROI pages)."""
    return tuple(store.fetchall(
        "SELECT (SELECT coalesce(max(batch_id), 0) FROM ingest_batches), "
        "(SELECT coalesce(sum(version), 0) + count(*) FROM incidents), "
        "(SELECT coalesce(max(id), 0) FROM flag_changes)")[0])


def data_span(store: Store) -> tuple[datetime | None, datetime | None]:
    """First and last minute of funnel data."""
    return tuple(store.fetchall("SELECT min(minute), max(minute) FROM rollup_funnel")[0])
