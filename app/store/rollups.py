"""Incremental per-minute aggregates.

Each rollup row is a pure function of the raw rows of its minute and segment.
After a batch lands, `refresh` recomputes exactly the minutes that batch touched
(a late event or a late label updates its own minute) from the raw table, in the
same transaction as the batch. `compute_sql` is the same computation with no
minute filter, which the tests compare against the stored rollups.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from app.store.schema import LAT_COLS, LATENCY_EDGES_MS, SCORE_COLS


def _latency_buckets() -> str:
    parts = []
    lo = None
    for i, col in enumerate(LAT_COLS):
        hi = LATENCY_EDGES_MS[i] if i < len(LATENCY_EDGES_MS) else None
        cond = []
        if lo is not None:
            cond.append(f"latency_ms > {lo}")
        if hi is not None:
            cond.append(f"latency_ms <= {hi}")
        parts.append(f"count(*) FILTER (WHERE {' AND '.join(cond)}) AS {col}")
        lo = hi
    return ",\n  ".join(parts)


def _score_buckets() -> str:
    return ",\n  ".join(f"count(*) FILTER (WHERE least(floor(score * 10), 9) = {i}) AS {col}"
                        for i, col in enumerate(SCORE_COLS))


_FLAGGED = "decision IN ('decline', 'review')"


@dataclass(frozen=True)
class Rollup:
    table: str
    source: str
    ts: str
    keys: tuple[str, ...]
    aggregates: str


ROLLUPS: dict[str, Rollup] = {
    "decisions": Rollup(
        "rollup_decisions", "decisions", "ts",
        ("flow", "feature", "model", "model_version", "platform", "region"),
        f"""count(*) AS n,
  count(*) FILTER (WHERE decision = 'approve') AS n_approve,
  count(*) FILTER (WHERE decision = 'decline') AS n_decline,
  count(*) FILTER (WHERE decision = 'review') AS n_review,
  count(*) FILTER (WHERE is_fraud IS NOT NULL) AS n_labeled,
  count(*) FILTER (WHERE is_fraud = false) AS n_legit,
  count(*) FILTER (WHERE is_fraud = false AND {_FLAGGED}) AS n_false_positive,
  count(*) FILTER (WHERE is_fraud = true) AS n_fraud,
  count(*) FILTER (WHERE is_fraud = true AND {_FLAGGED}) AS n_fraud_caught,
  coalesce(sum(amount_usd::DECIMAL(18, 2)), 0) AS amount_usd,
  coalesce(sum(amount_usd::DECIMAL(18, 2)) FILTER (WHERE is_fraud = true AND {_FLAGGED}), 0) AS fraud_amount_caught,
  sum(score::DECIMAL(18, 6)) AS score_sum,
  sum(latency_ms::DECIMAL(18, 3)) AS latency_sum,
  max(latency_ms) AS latency_max,
  {_latency_buckets()},
  {_score_buckets()}""",
    ),
    "funnel": Rollup(
        "rollup_funnel", "funnel", "ts", ("flow", "platform", "region"),
        """count(*) FILTER (WHERE step = 'view') AS n_view,
  count(*) FILTER (WHERE step = 'start') AS n_start,
  count(*) FILTER (WHERE step = 'submit') AS n_submit,
  count(*) FILTER (WHERE step = 'complete') AS n_complete,
  count(*) FILTER (WHERE step = 'abandon') AS n_abandon,
  coalesce(sum(amount_usd::DECIMAL(18, 2)) FILTER (WHERE step = 'complete'), 0) AS completed_usd""",
    ),
    "tickets": Rollup(
        "rollup_tickets", "tickets", "opened_at", ("flow", "category", "channel"),
        """count(*) AS n_opened,
  count(resolved_at) AS n_resolved,
  coalesce(sum((epoch(resolved_at) - epoch(opened_at))::DECIMAL(18, 6)), 0) AS resolution_s_sum""",
    ),
    "surveys": Rollup(
        "rollup_surveys", "surveys", "ts", ("flow", "source"),
        """count(*) AS n,
  sum(score::DECIMAL(18, 6)) AS score_sum,
  count(*) FILTER (WHERE score >= 9) AS n_promoters,
  count(*) FILTER (WHERE score <= 6) AS n_detractors""",
    ),
}


def compute_sql(kind: str, where: str = "") -> str:
    r = ROLLUPS[kind]
    keys = ", ".join(r.keys)
    return (f"SELECT date_trunc('minute', {r.ts}) AS minute, {keys},\n  {r.aggregates}\n"
            f"FROM {r.source} {where}\nGROUP BY ALL")


def refresh(w: duckdb.DuckDBPyConnection, kind: str, affected: str, ranges: str | None = None) -> int:
    """Recompute the minutes of the timestamps in table `affected` (column ts), and
    every minute inside the [lo, hi] minute ranges of table `ranges` (columns lo, hi).

    Runs inside the caller's write transaction. Returns the number of minutes listed
    plus the length of the ranges.
    """
    if kind not in ROLLUPS:
        return 0
    r = ROLLUPS[kind]
    total = 0
    if ranges:
        for lo, hi in w.execute(f"SELECT lo, hi FROM {ranges} ORDER BY lo").fetchall():
            w.execute(f"DELETE FROM {r.table} WHERE minute >= ? AND minute <= ?", [lo, hi])
            where = f"WHERE {r.ts} >= ? AND {r.ts} < ? + INTERVAL 1 MINUTE"
            w.execute(f"INSERT INTO {r.table} BY NAME {compute_sql(kind, where)}", [lo, hi])
            total += int((hi - lo).total_seconds() // 60) + 1
            w.execute(f"DELETE FROM {affected} WHERE ts >= ? AND ts < ? + INTERVAL 1 MINUTE", [lo, hi])
    w.execute(f"CREATE OR REPLACE TEMP TABLE __minutes AS SELECT DISTINCT date_trunc('minute', ts) AS minute "
              f"FROM {affected} WHERE ts IS NOT NULL")
    n, lo, hi = w.execute("SELECT count(*), min(minute), max(minute) FROM __minutes").fetchall()[0]
    if n:
        w.execute(f"DELETE FROM {r.table} WHERE minute >= ? AND minute <= ? "
                  f"AND minute IN (SELECT minute FROM __minutes)", [lo, hi])
        where = (f"WHERE {r.ts} >= ? AND {r.ts} < ? + INTERVAL 1 MINUTE "
                 f"AND date_trunc('minute', {r.ts}) IN (SELECT minute FROM __minutes)")
        w.execute(f"INSERT INTO {r.table} BY NAME {compute_sql(kind, where)}", [lo, hi])
    w.execute("DROP TABLE __minutes")
    return total + int(n)


def rebuild(w: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Recompute a whole rollup from raw (repair tool; `warroom rollups rebuild`)."""
    r = ROLLUPS[kind]
    w.execute(f"DELETE FROM {r.table}")
    w.execute(f"INSERT INTO {r.table} BY NAME {compute_sql(kind)}")
