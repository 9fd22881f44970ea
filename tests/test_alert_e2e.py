"""End to end: an inbox file with the break lands, the running server's worker
evaluates its rules, and the Slack receiver on 127.0.0.1 has the message within
60 seconds."""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.domain import alerts
from app.domain.auth import SYSTEM
from app.store.db import Store
from tests.conftest import ROOT
from tests.helpers import decision, write_csv
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.server


def test_break_to_slack_within_a_minute(tmp_path, server_factory):
    db = tmp_path / "e2e.duckdb"
    with Store(db) as s:
        alerts.create_rule(s, actor=SYSTEM, name="Withdrawal declines above 50%", kind="threshold",
                           metric="decline_rate", filters={"flow": "withdrawal"}, severity="SEV2",
                           params={"op": ">", "value": 0.5, "window_minutes": 5, "for_minutes": 0, "min_events": 10},
                           channels=["slack"])
    receiver = Receiver()
    try:
        srv = server_factory(db, env={"WARROOM_SLACK_WEBHOOK_URL": receiver.url + "/slack",
                                      "WARROOM_EVAL_SECONDS": "2"}).start()
        ts = (datetime.now(timezone.utc) - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [decision(i, ts=ts, flow="withdrawal", feature="withdrawal_risk_score", decision="decline")
                for i in range(40)]
        f = write_csv(tmp_path / "break.csv", rows)
        t0 = time.time()
        r = subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(f), "--kind", "decisions", "--db", str(db)],
                           cwd=ROOT, capture_output=True, text=True, env=os.environ, timeout=120)
        assert r.returncode == 0, r.stderr
        while time.time() - t0 < 60 and not receiver.received:
            time.sleep(0.2)
        elapsed = time.time() - t0
        assert receiver.received, "no Slack message within 60 s of the break landing in the inbox"
        body = receiver.received[0]["body"]
        assert body["text"].startswith("[FIRING] SEV2 Withdrawal declines above 50%: decline_rate 1")
        print(f"break to Slack: {elapsed:.1f} s")
        srv.stop()
    finally:
        receiver.stop()
