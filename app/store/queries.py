"""Read functions that return DataFrames. Bound parameters only.

Every function here enforces the hard limits: a time range no longer than
WARROOM_MAX_QUERY_DAYS and at most WARROOM_MAX_ROWS rows back, so no page can
scan the world. Chart series come from the rollups, not the raw tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from app import settings
from app.store.db import Store

BUCKETS: dict[str, str] = {
    "1m": "1 minute", "5m": "5 minutes", "15m": "15 minutes", "30m": "30 minutes", "1h": "1 hour",
    "1d": "1 day",
}
_KIND_TS = {"decisions": "ts", "funnel": "ts", "tickets": "opened_at", "surveys": "ts", "metrics": "ts"}


class QueryLimitError(ValueError):
    """A read asked for more than the hard limits allow."""


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise QueryLimitError(f"empty time range: {start} .. {end}")
    limit = timedelta(days=settings.get("max_query_days"))
    if end - start > limit:
        raise QueryLimitError(f"time range of {end - start} is longer than the limit of {limit.days} days "
                              "(setting WARROOM_MAX_QUERY_DAYS)")


def _bucket(bucket: str) -> str:
    if bucket not in BUCKETS:
        raise QueryLimitError(f"unknown bucket {bucket!r}; expected one of: {', '.join(BUCKETS)}")
    return BUCKETS[bucket]


def _limit() -> int:
    return int(settings.get("max_rows"))


def newest_event(store: Store) -> datetime | None:
    """Newest timestamp of a decision or funnel event (None for an empty store)."""
    return store.scalar("SELECT max(t) FROM (SELECT max(ts) AS t FROM decisions "
                        "UNION ALL SELECT max(ts) FROM funnel)")


def freshness(store: Store, *, now: datetime) -> pd.DataFrame:
    """Per input kind: newest event time, rows in the hour before `now`, rows in all."""
    parts = []
    for kind, ts in _KIND_TS.items():
        parts.append(
            f"SELECT '{kind}' AS kind, max({ts}) AS last_event, "
            f"count(*) FILTER (WHERE {ts} > ?::TIMESTAMP - INTERVAL 1 HOUR AND {ts} <= ?::TIMESTAMP) AS rows_last_hour, "
            f"count(*) AS rows_total FROM {kind}"
        )
    params = [now, now] * len(_KIND_TS)
    return store.query(" UNION ALL ".join(parts), params)


def last_ingest(store: Store) -> pd.DataFrame:
    return store.query("SELECT ingested_at, kind, rows_new, rows_duplicate, rows_updated, source "
                       "FROM ingest_batches ORDER BY batch_id DESC LIMIT 10")


def fp_vs_conversion(store: Store, *, flow: str, start: datetime, end: datetime, bucket: str) -> pd.DataFrame:
    """Decision and funnel counts of one flow per time bucket in [start, end).

    Columns: bucket, n, n_legit, n_false_positive, n_decline, n_review,
    n_view, n_start, n_complete. Buckets with neither kind of event are absent.
    """
    _check_range(start, end)
    width = _bucket(bucket)
    sql = f"""
    WITH d AS (
        SELECT time_bucket(INTERVAL '{width}', minute) AS bucket, sum(n) AS n, sum(n_legit) AS n_legit,
               sum(n_false_positive) AS n_false_positive, sum(n_decline) AS n_decline, sum(n_review) AS n_review
        FROM rollup_decisions WHERE flow = ? AND minute >= ? AND minute < ? GROUP BY ALL
    ), f AS (
        SELECT time_bucket(INTERVAL '{width}', minute) AS bucket, sum(n_view) AS n_view,
               sum(n_start) AS n_start, sum(n_complete) AS n_complete
        FROM rollup_funnel WHERE flow = ? AND minute >= ? AND minute < ? GROUP BY ALL
    )
    SELECT bucket, coalesce(n, 0) AS n, coalesce(n_legit, 0) AS n_legit,
           coalesce(n_false_positive, 0) AS n_false_positive, coalesce(n_decline, 0) AS n_decline,
           coalesce(n_review, 0) AS n_review, coalesce(n_view, 0) AS n_view,
           coalesce(n_start, 0) AS n_start, coalesce(n_complete, 0) AS n_complete
    FROM d FULL OUTER JOIN f USING (bucket)
    ORDER BY bucket LIMIT {_limit()}
    """
    df = store.query(sql, [flow, start, end, flow, start, end])
    for col in df.columns:
        if col != "bucket":
            df[col] = df[col].astype("int64")
    return df


def flow_totals(store: Store, *, flow: str, start: datetime, end: datetime) -> dict[str, int]:
    """Decision and funnel counts of one flow summed over [start, end)."""
    _check_range(start, end)
    d = store.cursor().execute(
        "SELECT coalesce(sum(n), 0), coalesce(sum(n_legit), 0), coalesce(sum(n_false_positive), 0), "
        "coalesce(sum(n_decline), 0), coalesce(sum(n_review), 0) "
        "FROM rollup_decisions WHERE flow = ? AND minute >= ? AND minute < ?", [flow, start, end]).fetchall()[0]
    f = store.cursor().execute(
        "SELECT coalesce(sum(n_view), 0), coalesce(sum(n_start), 0), coalesce(sum(n_complete), 0) "
        "FROM rollup_funnel WHERE flow = ? AND minute >= ? AND minute < ?", [flow, start, end]).fetchall()[0]
    keys = ["n", "n_legit", "n_false_positive", "n_decline", "n_review", "n_view", "n_start", "n_complete"]
    return {k: int(v) for k, v in zip(keys, (*d, *f))}


def flows_present(store: Store) -> list[str]:
    return [r[0] for r in store.fetchall(
        "SELECT DISTINCT flow FROM rollup_funnel UNION SELECT DISTINCT flow FROM rollup_decisions ORDER BY 1")]
