"""Delivery that loses nothing: write first, send later, retry with backoff.

Every notification is a row in the outbox before anything is sent. The worker
sends what is due; a timeout, a refused connection, 429 or a 5xx is retried with
exponential backoff and jitter (Retry-After is honoured); other 4xx answers and
anything older than WARROOM_OUTBOX_MAX_AGE_MINUTES are marked failed and shown.
One state change of one alert is one row per channel (enqueueing it again adds
nothing), each row is sent until one attempt succeeds, and later rows of the same
alert and channel wait for earlier ones, so a resolve never overtakes its trigger.
Each request carries `X-Warroom-Delivery: <outbox id>` so a receiver can drop a
repeat after a crash between sending and recording.
"""

from __future__ import annotations

import json
import random
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from app import settings
from app.notify import payloads
from app.notify.payloads import AlertEvent
from app.store import outbox as sql
from app.store.db import Store, utcnow

CHANNELS = ("slack", "pagerduty", "webhook")
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 300.0


@dataclass(frozen=True)
class Result:
    ok: bool
    retryable: bool
    error: str | None = None
    retry_after: float | None = None


def channel_urls() -> dict[str, str]:
    """Channels with an endpoint configured (PagerDuty also needs its routing key)."""
    out = {}
    if settings.get("slack_webhook_url"):
        out["slack"] = settings.get("slack_webhook_url")
    if settings.get("pagerduty_routing_key") and settings.get("pagerduty_url"):
        out["pagerduty"] = settings.get("pagerduty_url")
    if settings.get("webhook_url"):
        out["webhook"] = settings.get("webhook_url")
    return out


def build(channel: str, e: AlertEvent) -> dict:
    if channel == "slack":
        return payloads.slack(e)
    if channel == "pagerduty":
        return payloads.pagerduty(e, routing_key="")  # the key is added at send time, never stored
    if channel == "webhook":
        return payloads.alertmanager(e, external_url=settings.get("public_url"))
    raise ValueError(f"unknown channel {channel!r}")


def enqueue(store: Store, e: AlertEvent, channels: list[str] | None = None, *, at: datetime | None = None) -> list[int]:
    """Write one outbox row per configured channel for this state change (idempotent)."""
    urls = channel_urls()
    wanted = [c for c in (channels or CHANNELS) if c in urls]
    now = at or utcnow()
    ids = []
    with store.write() as w:
        for c in wanted:
            if sql.exists(w, channel=c, alert_id=e.alert_id, event=e.state):
                continue
            ids.append(sql.insert(w, channel=c, alert_id=e.alert_id, event=e.state,
                                  payload=json.dumps(build(c, e)), at=now))
    return ids


def http_post(url: str, body: dict, headers: dict[str, str], timeout: float) -> Result:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return Result(True, False)
    except urllib.error.HTTPError as exc:
        retry_after = None
        if exc.code == 429:
            try:
                retry_after = float(exc.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
        retryable = exc.code == 429 or exc.code >= 500
        return Result(False, retryable, f"HTTP {exc.code}", retry_after)
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Result(False, True, f"{type(reason).__name__}: {reason}")


def backoff(attempts: int, *, rng: random.Random = random.Random(), retry_after: float | None = None) -> float:
    """Seconds before the next attempt: 2, 4, 8 ... capped at 300, times a jitter of 0.5-1."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)) * (0.5 + 0.5 * rng.random())
    return max(delay, retry_after or 0.0)


def deliver_due(store: Store, *, now: datetime | None = None,
                send: Callable[[str, dict, dict, float], Result] = http_post) -> list[tuple[int, str]]:
    """One worker tick: try every due row once. Returns (outbox id, outcome) pairs."""
    now = now or utcnow()
    urls = channel_urls()
    max_age = timedelta(minutes=float(settings.get("outbox_max_age_minutes")))
    timeout = float(settings.get("delivery_timeout_seconds"))
    blocked: set[tuple[str, int]] = set()
    done = []
    for row in sql.pending(store.cursor()):
        key = (row["channel"], row["alert_id"])
        if key in blocked:
            continue
        if now - row["created_at"] > max_age:
            with store.write() as w:
                sql.mark(w, row["id"], status="failed", attempts=row["attempts"], next_attempt_at=None,
                         error=f"undelivered after {row['attempts']} attempt(s) in {max_age}: {row['last_error']}",
                         sent_at=None)
            done.append((row["id"], "failed"))
            continue
        if row["next_attempt_at"] > now:
            blocked.add(key)
            continue
        url = urls.get(row["channel"])
        if url is None:
            blocked.add(key)  # channel switched off since: keep the row until it is configured again
            continue
        body = json.loads(row["payload"])
        if row["channel"] == "pagerduty":
            body["routing_key"] = settings.get("pagerduty_routing_key")
        res = send(url, body, {"X-Warroom-Delivery": str(row["id"])}, timeout)
        attempts = int(row["attempts"]) + 1
        with store.write() as w:
            if res.ok:
                sql.mark(w, row["id"], status="sent", attempts=attempts, next_attempt_at=None, error=None, sent_at=now)
                done.append((row["id"], "sent"))
            elif res.retryable:
                nxt = now + timedelta(seconds=backoff(attempts, retry_after=res.retry_after))
                sql.mark(w, row["id"], status="pending", attempts=attempts, next_attempt_at=nxt, error=res.error,
                         sent_at=None)
                blocked.add(key)
                done.append((row["id"], f"retry: {res.error}"))
            else:
                sql.mark(w, row["id"], status="failed", attempts=attempts, next_attempt_at=None, error=res.error,
                         sent_at=None)
                done.append((row["id"], f"failed: {res.error}"))
    return done


def listing(store: Store, *, status: str | None = None):
    return sql.listing(store, status=status)

