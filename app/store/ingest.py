"""Validated, atomic, idempotent bulk loads of the five input kinds.

Every file of one call is read and validated before anything is written; the
rows of all of them then land in one transaction together with the rollup
upkeep, or nothing does. A row whose id is already stored is a duplicate
(nothing changes), unless it fills in or corrects an updatable column (a late
fraud label, a ticket's resolution time), which is then updated.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from app import settings
from app.store import rollups
from app.store.db import Store, utcnow
from app.store.kinds import Column, Kind, get_kind

MAX_PROBLEMS = 20
ROW = "__row"
SUFFIXES = {
    ".csv": "csv", ".csv.gz": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson",
    ".ndjson.gz": "ndjson", ".jsonl.gz": "ndjson",
}
ISO_TS = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)"
_seq = itertools.count(1)


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None  # 1-based data row; None for a file-level problem
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        text = ", ".join(where) + ": "
        if self.value is not None:
            text += f"value {self.value!r}: "
        return text + self.rule


class IngestError(Exception):
    """Validation failed; nothing was written."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        self.total = total if total is not None else len(problems)
        super().__init__(self.report())

    def report(self) -> str:
        head = f"{self.total} problem(s) found; nothing was written."
        if self.total > len(self.problems):
            head += f" The first {len(self.problems)}:"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


@dataclass
class IngestResult:
    kind: str
    files: list[str]
    rows_read: int = 0
    rows_new: int = 0
    rows_duplicate: int = 0
    rows_updated: int = 0
    minutes_refreshed: int = 0
    seconds: float = 0.0
    batch_id: int | None = None
    per_file: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"{self.kind}: {self.rows_read} rows read from {len(self.files)} file(s): "
                f"{self.rows_new} new, {self.rows_duplicate} duplicate, {self.rows_updated} updated "
                f"({self.seconds:.2f} s)")


# --------------------------------------------------------------------------- reading
def file_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    raise IngestError([Problem(str(path), None, None, None,
                               "unknown file type; use .csv, .csv.gz, .parquet, .ndjson or .jsonl")])


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


@dataclass(frozen=True)
class ParquetSource:
    """A Parquet file that DuckDB scans directly (faster than going through Arrow)."""
    path: Path
    schema: pa.Schema
    num_rows: int

    @property
    def column_names(self) -> list[str]:
        return self.schema.names


def read_file(path: Path) -> "pa.Table | ParquetSource":
    """Open one input file: an Arrow table (CSV columns all as text), or a Parquet source."""
    fmt = file_format(path)
    try:
        if fmt == "csv":
            header = _csv_header(path)
            if not header:
                raise IngestError([Problem(str(path), None, None, None, "file is empty (no header line)")])
            dupes = sorted({h for h in header if header.count(h) > 1})
            if dupes:
                raise IngestError([Problem(str(path), None, d, None, "column appears more than once")
                                   for d in dupes])
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(encoding="utf8", block_size=64 << 20),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header},
                    null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
                ),
            )
        if fmt == "parquet":
            meta = pq.read_metadata(path)
            return ParquetSource(path, pq.read_schema(path), meta.num_rows)
        stream = pa.input_stream(str(path), compression="detect")
        data = stream.read()
        if not data.strip():
            return pa.table({})
        # Timestamp-like columns stay text so their offset is checked, not guessed.
        first = io.BytesIO(data).readline()
        import json as _json
        try:
            keys = list(_json.loads(first).keys())
        except (ValueError, AttributeError):
            keys = []
        ts_like = {"ts", "opened_at", "resolved_at"} & set(keys)
        schema = pa.schema([(k, pa.string()) for k in ts_like | ({"labels"} & set(keys))])
        return pajson.read_json(io.BytesIO(data), parse_options=pajson.ParseOptions(
            explicit_schema=schema, newlines_in_values=False))
    except IngestError:
        raise
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, ValueError) as exc:
        raise IngestError([Problem(str(path), None, None, None, f"cannot be read as {fmt}: {exc}")]) from exc


# --------------------------------------------------------------------------- validation
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _category(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_dictionary(t):
        return _category(t.value_type)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_timestamp(t):
        return "ts_tz" if t.tz else "ts_naive"
    if pa.types.is_null(t):
        return "null"
    return "other"


@dataclass
class _ColumnPlan:
    expr: str  # typed SQL expression over the source view
    checks: list[tuple[str, str]]  # (failing condition, rule)


def _plan_column(col: Column, cat: str, now_sql: str) -> _ColumnPlan:
    c = _q(col.name)
    text = f"nullif(CAST({c} AS VARCHAR), '')" if cat in ("string", "null") else c
    checks: list[tuple[str, str]] = []
    if col.required:
        checks.append((f"{text} IS NULL", "is required (empty)"))
    present = f"{text} IS NOT NULL"
    if col.type == "ts":
        if cat in ("string", "null"):
            checks.append((f"{present} AND NOT regexp_full_match({text}, '{ISO_TS}')",
                           "is not an ISO-8601 timestamp with an offset (e.g. 2026-12-04T09:30:00Z)"))
            parsed = f"TRY_CAST({text} AS TIMESTAMPTZ)"
            checks.append((f"{present} AND regexp_full_match({text}, '{ISO_TS}') AND {parsed} IS NULL",
                           "is not a valid date and time"))
            typed = f"timezone('UTC', {parsed})"
        elif cat == "ts_tz":
            typed = f"timezone('UTC', {c})"
        elif cat == "ts_naive":
            checks.append((present, "timestamp has no time zone offset (write it as UTC-aware)"))
            typed = f"CAST({c} AS TIMESTAMP)"
        else:
            checks.append((present, "is not a timestamp"))
            typed = "CAST(NULL AS TIMESTAMP)"
        ok = f"TRY_CAST({text if cat in ('string', 'null') else c} AS TIMESTAMPTZ)"
        checks.append((f"{ok} IS NOT NULL AND timezone('UTC', {ok}) > {now_sql} + "
                       f"INTERVAL {int(settings.get('max_future_minutes'))} MINUTE",
                       f"is more than {settings.get('max_future_minutes')} minutes in the future "
                       "(setting WARROOM_MAX_FUTURE_MINUTES)"))
        checks.append((f"{ok} IS NOT NULL AND timezone('UTC', {ok}) < TIMESTAMP '2000-01-01'",
                       "is before 2000-01-01"))
        return _ColumnPlan(typed, checks)
    if col.type in ("float", "int"):
        num = f"TRY_CAST({text} AS DOUBLE)"
        if cat not in ("string", "null", "number"):
            checks.append((present, "is not a number"))
            return _ColumnPlan("CAST(NULL AS DOUBLE)", checks)
        checks.append((f"{present} AND {num} IS NULL", "is not a number"))
        checks.append((f"{num} IS NOT NULL AND (isnan({num}) OR isinf({num}))", "is not a finite number"))
        finite = f"{num} IS NOT NULL AND NOT isnan({num}) AND NOT isinf({num})"
        if col.type == "int":
            checks.append((f"{finite} AND {num} <> floor({num})", "is not a whole number"))
        if col.min is not None and col.max is not None:
            checks.append((f"{finite} AND ({num} < {col.min!r} OR {num} > {col.max!r})",
                           f"is out of range (must be between {col.min:g} and {col.max:g})"))
        elif col.min is not None:
            checks.append((f"{finite} AND {num} < {col.min!r}", f"is out of range (must be at least {col.min:g})"))
        typed = f"CAST({num} AS INTEGER)" if col.type == "int" else num
        return _ColumnPlan(typed, checks)
    if col.type == "bool":
        if cat == "bool":
            return _ColumnPlan(c, checks)
        if cat not in ("string", "null"):
            checks.append((present, "must be true, false or empty"))
            return _ColumnPlan("CAST(NULL AS BOOLEAN)", checks)
        low = f"lower(trim({text}))"
        checks.append((f"{present} AND {low} NOT IN ('true', 'false')", "must be true, false or empty"))
        return _ColumnPlan(f"CASE {low} WHEN 'true' THEN true WHEN 'false' THEN false END", checks)
    if col.type == "json":
        if cat not in ("string", "null"):
            checks.append((present, "must be a JSON object written as text"))
            return _ColumnPlan("'{}'", checks)
        checks.append((f"{present} AND (NOT json_valid({text}) OR json_type({text}::JSON) <> 'OBJECT')",
                       "is not a JSON object"))
        checks.append((f"{present} AND length({text}) > {col.max_len}",
                       f"is longer than {col.max_len} characters"))
        j = f"coalesce({text}, '{{}}')::JSON"
        canon = (f"to_json(map_from_entries(list_transform(list_sort(json_keys({j})), "
                 f"lambda k: struct_pack(k := k, v := json_extract_string({j}, k)))))::VARCHAR")
        return _ColumnPlan(f"CASE WHEN {text} IS NULL THEN '{{}}' ELSE {canon} END", checks)
    # id | str | enum | text
    if cat not in ("string", "null", "number"):
        checks.append((present, "must be text"))
    if col.type == "enum":
        allowed = ", ".join("'" + a.replace("'", "''") + "'" for a in col.allowed)
        checks.append((f"{present} AND {text} NOT IN ({allowed})",
                       "is not an allowed value (allowed: " + ", ".join(col.allowed) + ")"))
    checks.append((f"{present} AND length({text}) > {col.max_len}", f"is longer than {col.max_len} characters"))
    return _ColumnPlan(text, checks)


@dataclass
class _Prepared:
    label: str
    view: str  # registered Arrow table with a __row column
    typed: str  # SELECT of the typed target columns (plus __row) from the view
    rows: int
    repeats: bool  # the same id appears more than once in this file
    first_minute: object = None  # datetime of the earliest / latest minute in the file
    last_minute: object = None
    minutes: int = 0  # distinct minutes in the file (an estimate)

    @property
    def dense(self) -> bool:
        """Most minutes between the first and last hold rows: refresh the range, not a list."""
        if not self.minutes:
            return False
        span = (self.last_minute - self.first_minute).total_seconds() / 60 + 1
        return self.minutes >= 0.5 * span


def _validate(cur: duckdb.DuckDBPyConnection, kind: Kind, label: str,
              table: "pa.Table | ParquetSource") -> tuple[list[Problem], int, _Prepared | None]:
    """Check one file's rows. On success the file stays registered for loading."""
    present = table.column_names
    problems = [Problem(label, None, c, None, "missing column") for c in kind.names if c not in present]
    problems += [Problem(label, None, c, None,
                         "unknown column (expected: " + ", ".join(kind.names) + ")")
                 for c in present if c not in kind.names]
    if problems:
        return problems, len(problems), None
    n = table.num_rows
    view = f"__src_{next(_seq)}"
    if isinstance(table, ParquetSource):
        literal = "'" + str(table.path).replace("'", "''") + "'"
        cur.execute(f"CREATE TEMP VIEW {view} AS SELECT {', '.join(_q(c) for c in kind.names)}, "
                    f"file_row_number + 1 AS {ROW} FROM read_parquet({literal}, file_row_number = true)")
    else:
        table = table.select(kind.names).append_column(ROW, pa.array(np.arange(1, n + 1, dtype=np.int64)))
        cur.register(view, table)
    ok = False
    try:
        now_sql = "TIMESTAMP '" + utcnow().isoformat(sep=" ") + "'"
        plans = {c.name: _plan_column(c, _category(table.schema.field(c.name).type), now_sql)
                 for c in kind.columns}
        checks = [(name, cond, rule) for name, p in plans.items() for cond, rule in p.checks]
        typed_cols = ", ".join(f"{p.expr} AS {_q(name)}" for name, p in plans.items())
        if kind.id_column is None:  # metrics: a point is identified by (series, ts)
            typed_cols += f", md5({plans['name'].expr} || '|' || ({plans['labels'].expr})) AS series_key"
        typed = f"(SELECT {ROW}, {typed_cols} FROM {view})"
        # One scan: every check's failures, plus what loading needs (repeated ids, minutes).
        # Repeats are found by counting distinct hashes of the id: a hash collision only
        # sends the file down the exact (slower) de-duplicating path, never a wrong one.
        # The number of minutes only picks how rollups are refreshed, so an estimate does.
        if kind.id_column:
            key = plans[kind.id_column].expr
        else:
            key = (f"(md5({plans['name'].expr} || '|' || ({plans['labels'].expr})), "
                   f"{plans[kind.ts_column].expr})")
        minute = f"date_trunc('minute', {plans[kind.ts_column].expr})"
        counts, extra_counts, stats = [], [], (n, None, None, 0)
        if n:
            row = cur.execute(
                "SELECT " + "".join(f"count(*) FILTER (WHERE {cond}), " for _, cond, _ in checks)
                + f"count(DISTINCT hash({key})), min({minute}), max({minute}), approx_count_distinct({minute}) FROM {view}"
            ).fetchall()[0]
            counts, stats = list(row[:len(checks)]), row[len(checks):]
            if not any(counts):  # checks across columns need typed values
                extra_counts = [cur.execute(f"SELECT count(*) FILTER (WHERE {cond}) FROM {typed}").fetchall()[0][0]
                                for _, cond, _ in kind.checks]
        total = sum(counts) + sum(extra_counts)
        if total:
            found: list[Problem] = []
            for source, pairs in ((view, zip(checks, counts)), (typed, zip(kind.checks, extra_counts))):
                for (name, cond, rule), k in pairs:
                    if not k:
                        continue
                    for row, value in cur.execute(
                        f"SELECT {ROW}, CAST({_q(name)} AS VARCHAR) FROM {source} WHERE {cond} "
                        f"ORDER BY {ROW} LIMIT {MAX_PROBLEMS}"
                    ).fetchall():
                        found.append(Problem(label, int(row), name, _short(value), rule))
            found.sort(key=lambda p: (p.row or 0, kind.names.index(p.column) if p.column in kind.names else 0))
            return found, total, None
        distinct, lo, hi, minutes = stats
        ok = True
        return [], 0, _Prepared(label, view, typed, n, distinct < n, lo, hi, int(minutes or 0))
    finally:
        if not ok:
            _drop_source(cur, view)


def _drop_source(cur: duckdb.DuckDBPyConnection, view: str) -> None:
    cur.execute(f"DROP VIEW IF EXISTS temp.{view}")
    cur.unregister(view)


def _short(value: str | None) -> str | None:
    if value is None:
        return None
    return value if len(value) <= 60 else value[:57] + "..."


# --------------------------------------------------------------------------- loading
def ingest_tables(store: Store, kind_name: str, tables: Sequence[tuple[str, pa.Table]], *,
                  source: str = "cli", progress: Callable[[str], None] | None = None) -> IngestResult:
    """Validate and load already-read tables (label, table) as one transaction."""
    t0 = time.perf_counter()
    kind = get_kind(kind_name)
    step = progress or (lambda _msg: None)
    result = IngestResult(kind=kind.name, files=[label for label, _ in tables])
    cur = store.cursor()
    prepared: list[_Prepared] = []
    try:
        problems: list[Problem] = []
        total = 0
        for label, table in tables:
            step(f"validating {label}")
            result.rows_read += table.num_rows
            result.per_file[label] = table.num_rows
            found, count, prep = _validate(cur, kind, label, table)
            problems += found
            total += count
            if prep:
                prepared.append(prep)
        if total:
            raise IngestError(problems, total)
        step("writing")
        with store.write() as w:
            w.execute("CREATE OR REPLACE TEMP TABLE __affected (ts TIMESTAMP)")
            w.execute("CREATE OR REPLACE TEMP TABLE __ranges (lo TIMESTAMP, hi TIMESTAMP)")
            for prep in prepared:
                _load(w, kind, prep, result)
            step("updating rollups")
            if result.rows_new or result.rows_updated:
                result.minutes_refreshed = rollups.refresh(w, kind.name, "__affected", "__ranges")
            w.execute("DROP TABLE __affected")
            w.execute("DROP TABLE __ranges")
            result.batch_id = w.execute(
                "INSERT INTO ingest_batches (ingested_at, kind, files, rows_read, rows_new, rows_duplicate, "
                "rows_updated, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING batch_id",
                [utcnow(), kind.name, "\n".join(result.files), result.rows_read, result.rows_new,
                 result.rows_duplicate, result.rows_updated, source],
            ).fetchall()[0][0]
    finally:
        for prep in prepared:
            _drop_source(cur, prep.view)
        cur.execute("DROP TABLE IF EXISTS __affected")
        cur.execute("DROP TABLE IF EXISTS __ranges")
    result.seconds = time.perf_counter() - t0
    return result


def _load(w: duckdb.DuckDBPyConnection, kind: Kind, prep: _Prepared, result: IngestResult) -> None:
    """Apply updates, insert new rows, and add the touched timestamps to __affected.

    Runs inside the write transaction, so a later file of the same call sees the
    rows of an earlier one (its repeats are duplicates or updates, not new rows).
    """
    ts = _q(kind.ts_column)
    src = prep.typed
    if prep.repeats:  # the same id twice in one file: its last row counts
        key = _q(kind.id_column) if kind.id_column else "series_key, ts"
        src = f"(SELECT * FROM {src} QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {ROW} DESC) = 1)"
    if kind.id_column:
        id_col = _q(kind.id_column)
        cols = kind.names
        match = f"t.{id_col} = b.{id_col}"
    else:
        cols = ["series_key", "ts", "name", "value", "labels"]
        match = "t.series_key = b.series_key AND t.ts = b.ts"
    updated = 0
    if kind.updatable:
        changed = " OR ".join(f"(b.{_q(u)} IS NOT NULL AND b.{_q(u)} IS DISTINCT FROM t.{_q(u)})"
                              for u in kind.updatable)
        w.execute(f"CREATE OR REPLACE TEMP TABLE __changes AS SELECT t.{id_col} AS id, t.{ts} AS old_ts, "
                  + ", ".join(f"b.{_q(u)} AS {_q('new_' + u)}" for u in kind.updatable)
                  + f" FROM {kind.name} t JOIN {src} b ON {match} WHERE {changed}")
        updated = w.execute("SELECT count(*) FROM __changes").fetchall()[0][0]
        if updated:
            sets = ", ".join(f"{_q(u)} = coalesce(c.{_q('new_' + u)}, {kind.name}.{_q(u)})" for u in kind.updatable)
            w.execute(f"UPDATE {kind.name} SET {sets} FROM __changes c WHERE {kind.name}.{id_col} = c.id")
            w.execute("INSERT INTO __affected SELECT old_ts FROM __changes")
        w.execute("DROP TABLE __changes")
    col_list = ", ".join(_q(c) for c in cols)
    anti = f"WHERE NOT EXISTS (SELECT 1 FROM {kind.name} t WHERE {match})"
    new = w.execute(f"INSERT INTO {kind.name} ({col_list}) SELECT {col_list} FROM {src} b {anti}").fetchall()[0][0]
    # Every minute of the file: a superset of those touched, and recomputing is idempotent.
    if new and prep.dense:
        w.execute("INSERT INTO __ranges VALUES (?, ?)", [prep.first_minute, prep.last_minute])
    elif new:
        w.execute(f"INSERT INTO __affected SELECT DISTINCT date_trunc('minute', {ts}) FROM {src} b")
    result.rows_new += new
    result.rows_updated += updated
    result.rows_duplicate += prep.rows - new - updated


def ingest_files(store: Store, paths: Sequence[str | Path], kind: str, *, source: str = "cli",
                 progress: Callable[[str], None] | None = None) -> IngestResult:
    """Read, validate and load files of one kind: all of them, or none."""
    get_kind(kind)
    tables = []
    problems: list[Problem] = []
    for p in map(Path, paths):
        if not p.exists():
            problems.append(Problem(str(p), None, None, None, "file not found"))
            continue
        if progress:
            progress(f"reading {p}")
        try:
            tables.append((str(p), read_file(p)))
        except IngestError as exc:
            problems += exc.problems
    if problems:
        raise IngestError(problems)
    return ingest_tables(store, kind, tables, source=source, progress=progress)
