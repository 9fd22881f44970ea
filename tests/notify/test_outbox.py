"""Outbox delivery against real HTTP receivers on 127.0.0.1."""

from datetime import datetime, timedelta

import pytest

from app.notify import outbox, payloads
from app.notify.payloads import AlertEvent
from app.store.db import Store
from tests.notify.receiver import Receiver, check_shape

T0 = datetime(2026, 11, 28, 14, 0)


def event(alert_id=1, state="firing", **kw) -> AlertEvent:
    args = dict(alert_id=alert_id, fingerprint=f"fp-{alert_id}", rule="Deposit FP above 5% for 5 min", state=state,
                severity="SEV1", metric="false_positive_rate", value=0.151, baseline=0.02,
                labels={"flow": "deposit", "feature": "deposit_fraud_check"}, started_at=T0,
                runbook="http://127.0.0.1/runbooks/fp", link="http://127.0.0.1:8501/war-room?flow=deposit")
    args.update(kw)
    return AlertEvent(**args)


@pytest.fixture
def receiver(monkeypatch):
    r = Receiver()
    monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", r.url + "/slack")
    monkeypatch.setenv("WARROOM_PAGERDUTY_URL", r.url + "/pd")
    monkeypatch.setenv("WARROOM_PAGERDUTY_ROUTING_KEY", "R0UT1NG")
    monkeypatch.setenv("WARROOM_WEBHOOK_URL", r.url + "/am")
    monkeypatch.setenv("WARROOM_DELIVERY_TIMEOUT_SECONDS", "1")
    yield r
    r.stop()


def test_payload_shapes():
    e = event()
    assert check_shape("/slack", payloads.slack(e)) is None
    pd = payloads.pagerduty(e, "key")
    assert (pd["event_action"], pd["dedup_key"], pd["payload"]["severity"]) == ("trigger", "fp-1", "critical")
    assert payloads.pagerduty(event(state="resolved"), "key") == {"routing_key": "key", "event_action": "resolve",
                                                                 "dedup_key": "fp-1"}
    am = payloads.alertmanager(event(state="resolved", ended_at=T0 + timedelta(hours=1)))
    assert check_shape("/am", am) is None and am["alerts"][0]["endsAt"] == "2026-11-28T15:00:00.000000Z"
    assert "war room" in payloads.slack(e)["blocks"][3]["text"]["text"]


def test_each_state_change_reaches_every_channel_once(store, receiver):
    assert len(outbox.enqueue(store, event(), at=T0)) == 3
    assert outbox.enqueue(store, event(), at=T0) == []  # the same state change again adds nothing
    outbox.enqueue(store, event(state="acknowledged"), at=T0)
    outbox.enqueue(store, event(state="resolved"), at=T0)
    outbox.deliver_due(store, now=T0)
    assert receiver.rejected == []
    pd = [r["body"]["event_action"] for r in receiver.received if r["path"] == "/pd"]
    assert pd == ["trigger", "acknowledge", "resolve"]
    assert {r["body"]["dedup_key"] for r in receiver.received if r["path"] == "/pd"} == {"fp-1"}
    assert all(r["body"]["routing_key"] == "R0UT1NG" for r in receiver.received if r["path"] == "/pd")
    assert "R0UT1NG" not in store.scalar("SELECT string_agg(payload, '') FROM outbox")  # never stored
    assert len(receiver.received) == 9 and len({r["delivery"] for r in receiver.received}) == 9
    assert outbox.deliver_due(store, now=T0 + timedelta(minutes=1)) == []


def test_retries_with_backoff_on_5xx_429_and_stalls(store, receiver):
    outbox.enqueue(store, event(), channels=["slack"], at=T0)
    receiver.mode = "fail"
    assert outbox.deliver_due(store, now=T0) == [(1, "retry: HTTP 503")]
    assert outbox.deliver_due(store, now=T0 + timedelta(milliseconds=500)) == []  # backing off
    receiver.mode = "throttle"
    assert outbox.deliver_due(store, now=T0 + timedelta(seconds=3)) == [(1, "retry: HTTP 429")]
    nxt = store.scalar("SELECT next_attempt_at FROM outbox WHERE id = 1")
    assert nxt >= T0 + timedelta(seconds=10)  # Retry-After: 7 honoured
    receiver.mode = "stall"
    out = outbox.deliver_due(store, now=nxt)
    assert out[0][1].startswith("retry: ") and "timed out" in out[0][1].lower()
    receiver.mode = "ok"
    nxt = store.scalar("SELECT next_attempt_at FROM outbox WHERE id = 1")
    assert outbox.deliver_due(store, now=nxt) == [(1, "sent")]
    assert store.fetchall("SELECT status, attempts FROM outbox") == [("sent", 4)]
    deliveries = [r for r in receiver.received if r["path"] == "/slack"]
    assert [r["delivery"] for r in deliveries] == ["1"]  # the stalled request may arrive late; never as a new id


def test_receiver_outage_then_every_notification_arrives_once(tmp_path, monkeypatch):
    r = Receiver()
    port = r.port
    r.stop()  # the receiver is down: connections are refused
    for var, path in (("WARROOM_SLACK_WEBHOOK_URL", "/slack"), ("WARROOM_WEBHOOK_URL", "/am")):
        monkeypatch.setenv(var, f"http://127.0.0.1:{port}{path}")
    s = Store(tmp_path / "o.duckdb")
    for i in range(1, 11):
        outbox.enqueue(s, event(alert_id=i), at=T0)
    now = T0
    for _ in range(6):
        outbox.deliver_due(s, now=now)
        now += timedelta(seconds=40)
    assert s.scalar("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0") == 20
    s.close()  # the server restarts while the receiver is still down
    back = Receiver(port=port)
    try:
        s = Store(tmp_path / "o.duckdb")
        for _ in range(30):
            if not s.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'"):
                break
            outbox.deliver_due(s, now=now)
            now += timedelta(seconds=60)
        assert s.scalar("SELECT count(*) FROM outbox WHERE status = 'sent'") == 20
        assert len(back.received) == 20 and len({x["delivery"] for x in back.received}) == 20
    finally:
        back.stop()
        s.close()


def test_gives_up_after_the_age_limit_and_4xx_fails_at_once(store, receiver, monkeypatch):
    monkeypatch.setenv("WARROOM_OUTBOX_MAX_AGE_MINUTES", "10")
    outbox.enqueue(store, event(), channels=["slack"], at=T0)
    receiver.mode = "fail"
    outbox.deliver_due(store, now=T0)
    assert outbox.deliver_due(store, now=T0 + timedelta(minutes=11)) == [(1, "failed")]
    row = outbox.listing(store, status="failed").iloc[0]
    assert row["last_error"].startswith("undelivered after 1 attempt(s)")
    receiver.mode = "ok"
    monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", receiver.url + "/nowhere")  # the receiver answers 400
    outbox.enqueue(store, event(alert_id=2), channels=["slack"], at=T0 + timedelta(minutes=11))
    assert outbox.deliver_due(store, now=T0 + timedelta(minutes=11)) == [(2, "failed: HTTP 400")]


def test_demo_log_receiver_records_deliveries(store, tmp_path, monkeypatch):
    import json as _json
    from app.notify.logreceiver import LogReceiver
    r = LogReceiver(tmp_path / "notifications.log").start()
    try:
        monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", r.url + "/slack")
        monkeypatch.setenv("WARROOM_WEBHOOK_URL", r.url + "/webhook")
        outbox.enqueue(store, event(), at=T0)
        assert outbox.deliver_due(store, now=T0) == [(1, "sent"), (2, "sent")]
        lines = [_json.loads(x) for x in (tmp_path / "notifications.log").read_text().splitlines()]
        assert [x["channel"] for x in lines] == ["slack", "webhook"] and lines[0]["delivery"] == "1"
    finally:
        r.stop()
