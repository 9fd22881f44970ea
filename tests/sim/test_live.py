"""The live feed writes what becomes known, once, into an inbox the store ingests."""

from datetime import datetime, timezone

import pyarrow.parquet as pq

from app.sim.generator import simulate
from app.sim.live import LiveFeed
from app.sim.scenarios import DAY, get_scenario
from app.store import inbox
from app.store.db import Store
from app.store.ingest import ingest_tables

START = datetime(2026, 10, 1, tzinfo=timezone.utc)


def test_live_continues_history_and_labels_arrive(tmp_path):
    t0 = START.timestamp()
    t1 = t0 + 0.5 * DAY
    tables, _ = simulate("market-crash-false-positives", START, 0.5, seed=3, scale=0.3)
    store = Store(tmp_path / "l.duckdb")
    for kind, t in tables.items():
        ingest_tables(store, kind, [(kind, t)])
    pending = store.scalar("SELECT count(*) FROM decisions WHERE is_fraud IS NULL AND flow = 'deposit'")
    assert pending > 0  # the history's last labels are not known yet
    feed = LiveFeed(get_scenario("market-crash-false-positives", t0, t1, 3), tmp_path / "inbox", seed=3, scale=0.3,
                    t_start=t1)
    feed.prime(t0, t1)
    for k in range(1, 13):  # six simulated hours in 30-minute ticks
        feed.step(t1 + k * 1800)
    outcomes = inbox.process_all(store, tmp_path / "inbox")
    assert outcomes and all(o.error is None for o in outcomes)
    assert store.scalar("SELECT count(*) FROM decisions WHERE is_fraud IS NULL AND flow = 'deposit' "
                        "AND ts < to_timestamp(?)::TIMESTAMP", [t1]) < pending * 0.05
    assert store.scalar("SELECT max(ts) FROM decisions") > datetime.fromtimestamp(t1 + 5 * 3600, timezone.utc).replace(tzinfo=None)
    ids = store.scalar("SELECT count(*) - count(DISTINCT event_id) FROM funnel")
    assert ids == 0
    assert sum(o.result.rows_updated for o in outcomes) > 0  # late labels updated their rows
    written = sorted((tmp_path / "inbox" / "processed" / "decisions").glob("live-*.parquet"))
    assert written and pq.read_table(written[0]).schema.field("ts").type.tz == "UTC"
