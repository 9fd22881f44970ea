"""The background loop of `warroom serve`: one thread beside the Streamlit server.

Each tick ingests whatever waits in the inbox (rollups are kept current inside
each ingest's transaction). Later work (alert evaluation, flag ramps, the
notification outbox, the flag file) hooks in as further tick steps.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from app import settings
from app.store import inbox
from app.store.db import Store

log = logging.getLogger("warroom.worker")


@dataclass
class WorkerStatus:
    started_at: float | None = None
    last_tick: float | None = None
    ticks: int = 0
    files_processed: int = 0
    files_rejected: int = 0
    last_error: str | None = None
    recent: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, store: Store, inbox_dir: Path, *, poll_seconds: float | None = None) -> None:
        self.store = store
        self.inbox = Path(inbox_dir)
        self.poll = poll_seconds if poll_seconds is not None else float(settings.get("inbox_poll_seconds"))
        self.status = WorkerStatus()
        self.steps: list[Callable[[], None]] = [self._ingest_inbox, self._evaluate_rules, self._run_ramps,
                                                self._deliver_outbox]
        self._last_eval = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _ingest_inbox(self) -> None:
        for out in inbox.process_all(self.store, self.inbox):
            if out.error is None:
                self.status.files_processed += 1
                msg = f"ingested {out.entry.name}: {out.result.summary()}"
            else:
                self.status.files_rejected += 1
                msg = f"rejected {out.entry.name}: see {out.moved_to}.error.txt"
            log.info(msg)
            self.status.recent = (self.status.recent + [msg])[-20:]

    def _run_ramps(self) -> None:
        from app.domain import flags
        from app.store import queries
        alerting = flags.alerting_features(queries.firing_alerts(self.store))
        for msg in flags.run_ramps(self.store, alerting_features=alerting):
            log.info(msg)
            self.status.recent = (self.status.recent + [msg])[-20:]

    def _evaluate_rules(self) -> None:
        if time.time() - self._last_eval < float(settings.get("eval_seconds")):
            return
        self._last_eval = time.time()
        from app.domain import alerts
        for msg in alerts.evaluate(self.store):
            log.info("alerting: %s", msg)
            self.status.recent = (self.status.recent + [msg])[-20:]

    def _deliver_outbox(self) -> None:
        from app.notify import outbox
        for row_id, outcome in outbox.deliver_due(self.store):
            log.info("outbox #%s: %s", row_id, outcome)

    def tick(self) -> None:
        for step in self.steps:
            try:
                step()
            except Exception as exc:  # keep the loop alive; the status shows what broke
                log.exception("worker step %s failed", getattr(step, "__name__", step))
                self.status.last_error = f"{type(exc).__name__}: {exc}"
        self.status.ticks += 1
        self.status.last_tick = time.time()

    def run(self) -> None:
        self.status.started_at = time.time()
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.poll)

    def start(self) -> "Worker":
        self.inbox.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self.run, name="warroom-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


_worker: Worker | None = None


def current() -> Worker | None:
    """The worker of this process, if `warroom serve` started one."""
    return _worker


def set_current(worker: Worker | None) -> None:
    global _worker
    _worker = worker
