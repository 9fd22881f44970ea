"""The live feed: keeps writing simulated events into a server's inbox.

Simulated time runs at `speed` times the wall clock from `t_start`. Each tick
writes, per kind, the rows that became known since the last tick: new events,
and earlier decisions whose fraud label (or tickets whose resolution) arrived,
sent again with the same id so the store updates them.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.sim.generator import KINDS, TS, Generated, generate
from app.sim.scenarios import DAY, Scenario
from app.store import inbox

log = logging.getLogger("warroom.live")


def _scalar(t: float) -> pa.Scalar:
    return pa.scalar(int(round(t * 1e6)), pa.int64()).cast(TS)


class LiveFeed:
    def __init__(self, scn: Scenario, inbox_dir: Path, *, seed: int, scale: float = 1.0, speed: float = 1.0,
                 t_start: float | None = None, tick_seconds: float = 5.0) -> None:
        self.scn, self.inbox, self.seed, self.scale, self.speed = scn, Path(inbox_dir), seed, scale, speed
        self.tick_seconds = tick_seconds
        self.t_start = t_start if t_start is not None else time.time()
        self.sim_now = self.t_start
        self.pool: dict[str, pa.Table] = {}
        self.files_written = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prime(self, history_start: float, history_end: float) -> None:
        """Pick up where a batch history [history_start, history_end) left off: its last
        day is generated again (the same rows, chunk by chunk) and what was still unknown
        at its end (fraud labels, ticket resolutions, a session's later steps) goes into
        the pool, to be written when it becomes known."""
        last = history_start + max(0.0, (history_end - history_start - 1) // DAY) * DAY
        chunk = generate(self.scn, last, history_end, seed=self.seed, scale=self.scale, chunk_len=DAY).tables
        end = _scalar(history_end)
        for kind, table in chunk.items():
            if not table.num_rows:
                continue
            if kind == "decisions":
                keep = pc.or_(pc.greater_equal(table["ts"], end), pc.greater_equal(table["label_at"], end))
            elif kind == "tickets":
                keep = pc.or_(pc.greater_equal(table["opened_at"], end), pc.greater_equal(table["resolved_at"], end))
            else:
                keep = pc.greater_equal(table["ts"], end)
            self.pool[kind] = table.filter(keep)
        self.sim_now = max(self.sim_now, history_end)

    def step(self, until: float) -> dict[str, int]:
        """Advance simulated time to `until` and write what became known. Returns rows per kind."""
        prev = self.sim_now
        if until <= prev:
            return {}
        span = until - prev
        new = generate(self.scn, prev, until, seed=self.seed, scale=self.scale,
                       slot_len=min(60.0, span), chunk_len=span).tables
        lo, hi = _scalar(prev), _scalar(until)
        written = {}
        for kind in KINDS:
            table = new[kind]
            if kind in self.pool and self.pool[kind].num_rows:
                table = pa.concat_tables([self.pool[kind], table]) if table.num_rows else self.pool[kind]
            if not table.num_rows:
                continue
            known = Generated({kind: table}).as_of(until)[kind]
            full = table.filter(pc.less(table["opened_at" if kind == "tickets" else "ts"], hi))
            ts = known["opened_at" if kind == "tickets" else "ts"]
            emit = pc.greater_equal(ts, lo)
            if kind == "decisions":
                late = pc.and_(pc.less(full["label_at"], hi), pc.greater_equal(full["label_at"], lo))
                emit = pc.or_(emit, pc.and_(late, pc.less(ts, lo)))
                keep = pc.or_(pc.greater_equal(table["ts"], hi), pc.greater_equal(table["label_at"], hi))
            elif kind == "tickets":
                late = pc.and_(pc.less(full["resolved_at"], hi), pc.greater_equal(full["resolved_at"], lo))
                emit = pc.or_(emit, pc.and_(late, pc.less(ts, lo)))
                keep = pc.or_(pc.greater_equal(table["opened_at"], hi), pc.greater_equal(table["resolved_at"], hi))
            else:
                keep = pc.greater_equal(table["ts"], hi)
            out = known.filter(emit)
            self.pool[kind] = table.filter(keep)
            if out.num_rows:
                name = f"live-{int(until * 1000)}-{kind}.parquet"
                inbox.write_file(self.inbox, kind, name, lambda p, t=out: pq.write_table(t, p))
                self.files_written += 1
                written[kind] = out.num_rows
        self.sim_now = until
        return written

    def run(self) -> None:
        wall0 = time.time()
        while not self._stop.is_set():
            target = self.t_start + self.speed * (time.time() - wall0)
            try:
                self.step(target)
            except Exception:  # never let the feed kill the server; log and go on
                log.exception("live feed step failed")
            self._stop.wait(self.tick_seconds)

    def start(self) -> "LiveFeed":
        self._thread = threading.Thread(target=self.run, name="warroom-live-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
