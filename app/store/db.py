"""The connection owner: one DuckDB connection per process, a cursor per thread
for reads, one writer lock for every write, and forward migrations on open.

DuckDB lets one process open a file for writing and then no other process may
open it at all. `Store` is that one opening; everything in the process reads
through `store.cursor()` (a cursor used by two threads at once raises
"connection is busy") and writes through `store.write()` (concurrent updates of
one row raise "Conflict on update!", so writes are serialised here).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import duckdb

from app.store.schema import MIGRATIONS


class StoreLocked(RuntimeError):
    """Another process holds the store file (normally a running `warroom serve`)."""


def utcnow() -> datetime:
    """Current time as a naive UTC datetime (storage is UTC, TIMESTAMP columns)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set" in text)


class Store:
    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if is_lock_error(exc):
                raise StoreLocked(
                    f"{self.path} is held by another process (is `warroom serve` running?)"
                ) from exc
            raise
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        self._write_lock = threading.RLock()
        self._cursors: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}
        self._cursors_lock = threading.Lock()
        self.closed = False
        if not read_only:
            self.migrate()

    # -- reads ---------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's own cursor (created on first use)."""
        me = threading.current_thread()
        with self._cursors_lock:
            cur = self._cursors.get(me)
            if cur is None:
                for t in [t for t in self._cursors if not t.is_alive()]:
                    self._cursors.pop(t).close()
                cur = self._con.cursor()
                cur.execute("SET TimeZone = 'UTC'")
                self._cursors[me] = cur
            return cur

    def query(self, sql: str, params: list | tuple | dict | None = None):
        """Run a read and return a pandas DataFrame."""
        return self.cursor().execute(sql, params or []).df()

    def fetchall(self, sql: str, params: list | tuple | dict | None = None) -> list[tuple]:
        return self.cursor().execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | tuple | dict | None = None):
        rows = self.cursor().execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    # -- writes --------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock across several transactions and side effects (a flag-file
        rewrite after its commit), so no other writer interleaves."""
        with self._write_lock:
            yield

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction under the process-wide writer lock.

        Commits when the block ends, rolls back (nothing written) if it raises.
        """
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")

    # -- schema --------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        if not exists:
            return 0
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def migrate(self) -> list[int]:
        """Apply every migration above the store's version; returns those applied."""
        applied = []
        with self._write_lock:
            cur = self.cursor()
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            current = self.schema_version()
            for version, name, statements in MIGRATIONS:
                if version <= current:
                    continue
                with self.write() as w:
                    for stmt in statements:
                        w.execute(stmt)
                    w.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utcnow()]
                    )
                applied.append(version)
        return applied

    def close(self) -> None:
        if self.closed:
            return
        with self._cursors_lock:
            for cur in self._cursors.values():
                try:
                    cur.close()
                except duckdb.Error:
                    pass
            self._cursors.clear()
        self._con.close()
        self.closed = True

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def probe_lock(path: str | Path) -> bool:
    """True if another process holds the store file open."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if is_lock_error(exc):
            return True
        raise
    con.close()
    return False
