"""A real `warroom serve` process: inbox ingest, rejection, and SIGKILL mid-ingest."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.sim.generator import _ids, _ts
from app.store.db import Store
from tests.conftest import ROOT
from tests.helpers import decision, write_csv

pytestmark = pytest.mark.server


def wait_for(pred, timeout=60.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def funnel_table(n: int, prefix: str) -> pa.Table:
    rng = np.random.default_rng(1)
    t = 1_793_000_000 + np.sort(rng.uniform(0, 3 * 86400, n))
    return pa.table({
        "event_id": _ids(prefix, n), "ts": _ts(t), "session_id": _ids("s", n), "user_id": _ids("u", n),
        "flow": pa.array(np.array(["deposit", "trade"])[rng.integers(0, 2, n)]),
        "step": pa.array(np.array(["view", "start", "complete"])[rng.integers(0, 3, n)]),
        "platform": pa.array(np.array(["web", "ios"])[rng.integers(0, 2, n)]),
        "region": pa.array(np.array(["eu", "us"])[rng.integers(0, 2, n)]),
        "amount_usd": pa.array(np.round(rng.uniform(1, 500, n), 2)),
    })


def test_inbox_files_are_ingested_by_the_running_server(tmp_path, server_factory):
    db = tmp_path / "s.duckdb"
    srv = server_factory(db).start()
    good = write_csv(tmp_path / "good.csv", [decision(1), decision(2)])
    r = cli("ingest", str(good), "--kind", "decisions", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "held by a running server: queued 1 file(s)" in r.stdout
    processed = srv.inbox / "processed" / "decisions"
    summary = wait_for(lambda: list(processed.glob("*.summary.txt")), 30, "the batch to be processed")
    assert "2 new, 0 duplicate" in summary[0].read_text()
    # A bad file: the CLI refuses it at once and queues nothing.
    bad = write_csv(tmp_path / "bad.csv", [decision(3, score="7")])
    r = cli("ingest", str(bad), "--kind", "decisions", "--db", str(db))
    assert r.returncode == 2
    assert f"{bad}, row 1, column score: value '7': is out of range (must be between 0 and 1)" in r.stderr
    # The same bad file dropped straight into the inbox is rejected with a report beside it.
    tmp = srv.inbox / "decisions" / ".bad.csv.tmp"
    shutil.copyfile(bad, tmp)
    os.rename(tmp, srv.inbox / "decisions" / "bad.csv")
    rejected = srv.inbox / "rejected" / "decisions"
    report = wait_for(lambda: list(rejected.glob("bad.csv.error.txt")), 30, "the rejection")
    assert "row 1, column score: value '7': is out of range" in report[0].read_text()
    assert (rejected / "bad.csv").exists()
    srv.stop()
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM decisions") == 2
        assert s.scalar("SELECT sum(n) FROM rollup_decisions") == 2


@pytest.mark.parametrize("kill_after", [0.6, 1.5, 6.0])
def test_sigkill_during_a_large_inbox_ingest_loses_nothing_and_halves_nothing(tmp_path, server_factory, kill_after):
    db = tmp_path / "k.duckdb"
    n = 3_000_000
    src = tmp_path / "big.parquet"
    pq.write_table(funnel_table(n, "big-"), src)
    srv = server_factory(db).start()
    box = srv.inbox / "funnel"
    box.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, box / ".big.parquet.tmp")
    os.rename(box / ".big.parquet.tmp", box / "big.parquet")
    time.sleep(kill_after)
    srv.kill()  # SIGKILL to the whole process group
    with Store(db) as s:
        landed = s.scalar("SELECT count(*) FROM funnel")
        rolled = s.scalar("SELECT coalesce(sum(n_view + n_start + n_complete), 0) FROM rollup_funnel")
    in_inbox = (box / "big.parquet").exists()
    print(f"killed after {kill_after} s: {landed} rows landed")
    in_processed = (srv.inbox / "processed" / "funnel" / "big.parquet").exists()
    assert landed in (0, n) and rolled == landed
    assert in_inbox or in_processed
    assert not (in_inbox and in_processed)
    if landed == 0:
        assert in_inbox  # not committed, so not moved
    # After a restart the file lands exactly once.
    srv2 = server_factory(db).start()
    wait_for(lambda: (srv2.inbox / "processed" / "funnel" / "big.parquet").exists(), 120, "re-ingest after restart")
    srv2.stop()
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM funnel") == n
        assert s.scalar("SELECT count(DISTINCT event_id) FROM funnel") == n
        assert s.scalar("SELECT sum(n_view + n_start + n_complete) FROM rollup_funnel") == n
