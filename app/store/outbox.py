"""SQL for the notification outbox: every notification is written here before it is sent."""

from __future__ import annotations

from datetime import datetime

from app.store.control import _rows
from app.store.db import Store

COLS = ("id", "created_at", "channel", "alert_id", "event", "payload", "status", "attempts", "next_attempt_at",
        "last_error", "sent_at")


def exists(cur, *, channel: str, alert_id: int, event: str) -> bool:
    return bool(cur.execute("SELECT count(*) FROM outbox WHERE channel = ? AND alert_id = ? AND event = ?",
                            [channel, alert_id, event]).fetchall()[0][0])


def insert(w, *, channel: str, alert_id: int, event: str, payload: str, at: datetime) -> int:
    return w.execute("INSERT INTO outbox (created_at, channel, alert_id, event, payload, status, attempts, "
                     "next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?) RETURNING id",
                     [at, channel, alert_id, event, payload, at]).fetchall()[0][0]


def pending(cur, *, limit: int = 200) -> list[dict]:
    return _rows(cur, f"SELECT {', '.join(COLS)} FROM outbox WHERE status = 'pending' ORDER BY id LIMIT {int(limit)}", [])


def mark(w, row_id: int, *, status: str, attempts: int, next_attempt_at: datetime | None, error: str | None,
         sent_at: datetime | None) -> None:
    w.execute("UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, sent_at = ? "
              "WHERE id = ?", [status, attempts, next_attempt_at, error, sent_at, row_id])


def listing(store: Store, *, status: str | None = None, limit: int = 500):
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    return store.query(f"SELECT {', '.join(COLS)} FROM outbox {where} ORDER BY id DESC LIMIT {int(limit)}", params)
