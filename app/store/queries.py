"""Read functions that return DataFrames. Bound parameters only.

Every function here enforces the hard limits: a time range no longer than
WARROOM_MAX_QUERY_DAYS and at most WARROOM_MAX_ROWS rows back, so no page can
scan the world. Chart series come from the rollups, not the raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from app import settings
from app.store.db import Store
from app.store.schema import LAT_COLS, SCORE_COLS

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


def newest_event(store: Store, *, until: datetime | None = None) -> datetime | None:
    """Newest timestamp of a decision or funnel event, at or before `until` (None if none)."""
    # The rollups say which minute holds the newest event; only that minute's raw rows are read.
    out = None
    for raw, rollup in (("decisions", "rollup_decisions"), ("funnel", "rollup_funnel")):
        if until is None:
            minute = store.scalar(f"SELECT max(minute) FROM {rollup}")
            t = None if minute is None else store.scalar(
                f"SELECT max(ts) FROM {raw} WHERE ts >= ? AND ts < ? + INTERVAL 1 MINUTE", [minute, minute])
        else:
            minute = store.scalar(f"SELECT max(minute) FROM {rollup} WHERE minute <= ?", [until])
            t = None if minute is None else store.scalar(
                f"SELECT max(ts) FROM {raw} WHERE ts >= ? AND ts <= ?", [minute, until])
            if t is None and minute is not None:  # `until` falls before that minute's first event
                prev = store.scalar(f"SELECT max(minute) FROM {rollup} WHERE minute < ?", [minute])
                t = None if prev is None else store.scalar(
                    f"SELECT max(ts) FROM {raw} WHERE ts >= ? AND ts < ? + INTERVAL 1 MINUTE", [prev, prev])
        if t is not None and (out is None or t > out):
            out = t
    return out


def has_decisions(store: Store) -> bool:
    return bool(store.scalar("SELECT count(*) FROM decisions"))


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


# --------------------------------------------------------------------------- war room and trends


@dataclass(frozen=True)
class Segment:
    """Which slice of traffic a read covers. None means all."""
    flow: str
    feature: str | None = None
    model_version: str | None = None
    platform: str | None = None
    region: str | None = None

    def decision_where(self) -> tuple[str, list]:
        parts, params = ["flow = ?"], [self.flow]
        for col in ("feature", "model_version", "platform", "region"):
            value = getattr(self, col)
            if value is not None:
                parts.append(f"{col} = ?")
                params.append(value)
        return " AND ".join(parts), params

    def funnel_where(self) -> tuple[str, list]:
        parts, params = ["flow = ?"], [self.flow]
        for col in ("platform", "region"):
            value = getattr(self, col)
            if value is not None:
                parts.append(f"{col} = ?")
                params.append(value)
        return " AND ".join(parts), params


_DEC_SUMS = ("n", "n_approve", "n_decline", "n_review", "n_labeled", "n_legit", "n_false_positive", "n_fraud",
             "n_fraud_caught")
_FUN_SUMS = ("n_view", "n_start", "n_submit", "n_complete", "n_abandon")


def _sum_cols(cols) -> str:
    return ", ".join(f"coalesce(sum({c}), 0)::BIGINT AS {c}" for c in cols)


def window_sums(store: Store, seg: Segment, *, start: datetime, end: datetime) -> dict:
    """Every KPI's counts for one segment over [start, end): decisions, funnel, tickets, surveys."""
    _check_range(start, end)
    dw, dp = seg.decision_where()
    fw, fp = seg.funnel_where()
    cur = store.cursor()
    d = cur.execute(f"SELECT {_sum_cols(_DEC_SUMS + tuple(LAT_COLS))}, coalesce(max(latency_max), 0) AS latency_max "
                    f"FROM rollup_decisions WHERE {dw} AND minute >= ? AND minute < ?", [*dp, start, end])
    names = [c[0] for c in d.description]
    out = dict(zip(names, d.fetchall()[0]))
    f = cur.execute(f"SELECT {_sum_cols(_FUN_SUMS)} FROM rollup_funnel WHERE {fw} AND minute >= ? AND minute < ?",
                    [*fp, start, end])
    out.update(zip([c[0] for c in f.description], f.fetchall()[0]))
    t = cur.execute("SELECT coalesce(sum(n_opened), 0)::BIGINT FROM rollup_tickets WHERE flow = ? "
                    "AND minute >= ? AND minute < ?", [seg.flow, start, end]).fetchall()[0]
    out["n_tickets"] = t[0]
    s = cur.execute("SELECT coalesce(sum(n), 0)::BIGINT, coalesce(sum(score_sum), 0)::BIGINT, "
                    "coalesce(sum(n_promoters), 0)::BIGINT, coalesce(sum(n_detractors), 0)::BIGINT "
                    "FROM rollup_surveys WHERE flow = ? AND minute >= ? AND minute < ?", [seg.flow, start, end]).fetchall()[0]
    out.update(dict(zip(("n_surveys", "survey_score_sum", "n_promoters", "n_detractors"), s)))
    out["lat_hist"] = [out.pop(c) for c in LAT_COLS]
    return out


def series(store: Store, seg: Segment, *, start: datetime, end: datetime, bucket: str) -> pd.DataFrame:
    """Per-bucket decision and funnel counts of a segment (chart series; buckets without data absent)."""
    _check_range(start, end)
    width = _bucket(bucket)
    dw, dp = seg.decision_where()
    fw, fp = seg.funnel_where()
    sql = f"""
    WITH d AS (
        SELECT time_bucket(INTERVAL '{width}', minute) AS bucket, {_sum_cols(_DEC_SUMS)}
        FROM rollup_decisions WHERE {dw} AND minute >= ? AND minute < ? GROUP BY ALL
    ), f AS (
        SELECT time_bucket(INTERVAL '{width}', minute) AS bucket, {_sum_cols(_FUN_SUMS)}
        FROM rollup_funnel WHERE {fw} AND minute >= ? AND minute < ? GROUP BY ALL
    )
    SELECT bucket, {", ".join(f"coalesce({c}, 0)::BIGINT AS {c}" for c in _DEC_SUMS + _FUN_SUMS)}
    FROM d FULL OUTER JOIN f USING (bucket) ORDER BY bucket LIMIT {_limit()}
    """
    return store.query(sql, [*dp, start, end, *fp, start, end])


def breakdown(store: Store, seg: Segment, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Decision and funnel counts per (platform, region) of a segment over [start, end)."""
    _check_range(start, end)
    dw, dp = seg.decision_where()
    fw, fp = seg.funnel_where()
    sql = f"""
    WITH d AS (SELECT platform, region, {_sum_cols(_DEC_SUMS)} FROM rollup_decisions
               WHERE {dw} AND minute >= ? AND minute < ? GROUP BY ALL),
         f AS (SELECT platform, region, {_sum_cols(_FUN_SUMS)} FROM rollup_funnel
               WHERE {fw} AND minute >= ? AND minute < ? GROUP BY ALL)
    SELECT platform, region, {", ".join(f"coalesce({c}, 0)::BIGINT AS {c}" for c in _DEC_SUMS + _FUN_SUMS)}
    FROM d FULL OUTER JOIN f USING (platform, region) ORDER BY platform, region LIMIT {_limit()}
    """
    return store.query(sql, [*dp, start, end, *fp, start, end])


def score_histograms(store: Store, *, feature: str, model_version: str | None, start: datetime, end: datetime,
                     bucket: str = "1d") -> pd.DataFrame:
    """Model-score histogram (score_h0..score_h9) per time bucket for a feature (and version)."""
    _check_range(start, end)
    width = _bucket(bucket)
    where, params = "feature = ? AND minute >= ? AND minute < ?", [feature, start, end]
    if model_version is not None:
        where += " AND model_version = ?"
        params.append(model_version)
    return store.query(f"SELECT time_bucket(INTERVAL '{width}', minute) AS bucket, {_sum_cols(SCORE_COLS)} "
                       f"FROM rollup_decisions WHERE {where} GROUP BY ALL ORDER BY bucket LIMIT {_limit()}", params)


def latency_by_version(store: Store, *, feature: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Latency histogram, count and max per model version of a feature over [start, end)."""
    _check_range(start, end)
    return store.query(f"SELECT model_version, {_sum_cols(('n',) + tuple(LAT_COLS))}, max(latency_max) AS latency_max, "
                       f"min(minute) AS first_seen, max(minute) AS last_seen FROM rollup_decisions "
                       f"WHERE feature = ? AND minute >= ? AND minute < ? GROUP BY ALL ORDER BY first_seen "
                       f"LIMIT {_limit()}", [feature, start, end])


def segment_options(store: Store) -> dict[str, list[str]]:
    """Distinct values of each filter column, for the pickers."""
    out = {}
    for col in ("flow", "feature", "model_version", "platform", "region"):
        out[col] = [r[0] for r in store.fetchall(
            f"SELECT DISTINCT {col} FROM rollup_decisions UNION SELECT DISTINCT {col} FROM "
            f"{'rollup_funnel' if col in ('flow', 'platform', 'region') else 'rollup_decisions'} ORDER BY 1 "
            f"LIMIT {_limit()}")]
    return out


def features_of_flow(store: Store, flow: str) -> list[str]:
    return [r[0] for r in store.fetchall("SELECT DISTINCT feature FROM rollup_decisions WHERE flow = ? ORDER BY 1",
                                         [flow])]


def versions_of_feature(store: Store, feature: str) -> list[str]:
    return [r[0] for r in store.fetchall(
        "SELECT model_version FROM rollup_decisions WHERE feature = ? GROUP BY 1 ORDER BY min(minute)", [feature])]


def feature_states(store: Store) -> pd.DataFrame:
    """The registry of ML features and their current flag state (filled by the control panel)."""
    return store.query("SELECT feature, flow, model, active_version, fallback, state, percent, updated_at "
                       f"FROM features ORDER BY flow, feature LIMIT {_limit()}")


def incidents_overlapping(store: Store, *, start: datetime, end: datetime, flow: str | None = None) -> pd.DataFrame:
    """Incidents whose [started_at or detected_at, resolved_at or now] overlaps [start, end)
    (only those affecting `flow`, when given)."""
    _check_range(start, end)
    where, params = "", [end, start]
    if flow is not None:
        where, params = " AND list_contains(flows, ?)", [end, start, flow]
    return store.query(
        "SELECT id, title, severity, status, flows, features, coalesce(started_at, detected_at, created_at) AS began, "
        "resolved_at FROM incidents WHERE coalesce(started_at, detected_at, created_at) < ? "
        f"AND (resolved_at IS NULL OR resolved_at >= ?){where} ORDER BY began LIMIT {_limit()}", params)


def open_incidents(store: Store) -> pd.DataFrame:
    return store.query("SELECT id, title, severity, status, flows, coalesce(started_at, detected_at, created_at) AS began "
                       f"FROM incidents WHERE resolved_at IS NULL ORDER BY severity, began LIMIT {_limit()}")


def flag_changes_between(store: Store, *, start: datetime, end: datetime, features: list[str] | None = None) -> pd.DataFrame:
    _check_range(start, end)
    where, params = "changed_at >= ? AND changed_at < ?", [start, end]
    if features:
        where += " AND feature IN (SELECT unnest(?))"
        params.append(list(features))
    return store.query("SELECT id, changed_at, actor, feature, action, old_state, new_state, reason, incident_id "
                       f"FROM flag_changes WHERE {where} ORDER BY changed_at LIMIT {_limit()}", params)


def firing_alerts(store: Store) -> pd.DataFrame:
    return store.query("SELECT a.id, r.name, r.metric, r.filters, r.severity, a.state, a.value, a.fired_at "
                       "FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE a.state = 'firing' "
                       f"ORDER BY a.fired_at LIMIT {_limit()}")


def raw_window_counts(store: Store, flow: str, *, start: datetime, end: datetime) -> dict:
    """The war-room tile counts straight from the raw tables (the benchmark's plain-scan baseline)."""
    _check_range(start, end)
    d = store.cursor().execute(
        "SELECT count(*), count(*) FILTER (WHERE is_fraud = false), "
        "count(*) FILTER (WHERE is_fraud = false AND decision <> 'approve'), count(*) FILTER (WHERE decision = 'decline'), "
        "count(*) FILTER (WHERE decision = 'review'), quantile_cont(latency_ms, 0.95) FROM decisions "
        "WHERE flow = ? AND ts >= ? AND ts < ?", [flow, start, end]).fetchall()[0]
    f = store.cursor().execute(
        "SELECT count(*) FILTER (WHERE step = 'view'), count(*) FILTER (WHERE step = 'start'), "
        "count(*) FILTER (WHERE step = 'complete') FROM funnel WHERE flow = ? AND ts >= ? AND ts < ?",
        [flow, start, end]).fetchall()[0]
    return dict(zip(("n", "n_legit", "n_false_positive", "n_decline", "n_review", "latency_p95",
                     "n_view", "n_start", "n_complete"), (*d, *f)))


def raw_series(store: Store, flow: str, *, start: datetime, end: datetime, bucket: str) -> pd.DataFrame:
    """FP and conversion counts per bucket straight from the raw tables (benchmark baseline)."""
    _check_range(start, end)
    width = _bucket(bucket)
    return store.query(f"""
    WITH d AS (SELECT time_bucket(INTERVAL '{width}', ts) AS bucket, count(*) FILTER (WHERE is_fraud = false) AS n_legit,
               count(*) FILTER (WHERE is_fraud = false AND decision <> 'approve') AS n_false_positive
               FROM decisions WHERE flow = ? AND ts >= ? AND ts < ? GROUP BY ALL),
         f AS (SELECT time_bucket(INTERVAL '{width}', ts) AS bucket, count(*) FILTER (WHERE step = 'start') AS n_start,
               count(*) FILTER (WHERE step = 'complete') AS n_complete
               FROM funnel WHERE flow = ? AND ts >= ? AND ts < ? GROUP BY ALL)
    SELECT * FROM d FULL OUTER JOIN f USING (bucket) ORDER BY bucket LIMIT {_limit()}""",
                       [flow, start, end, flow, start, end])
