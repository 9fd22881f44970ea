import shutil

import pytest

from app.store import rollups
from app.store.db import Store
from app.store.ingest import ingest_files
from tests.helpers import decision, write_csv


def assert_rollups_match_raw(store: Store) -> None:
    for kind, r in rollups.ROLLUPS.items():
        fresh = rollups.compute_sql(kind)
        cols = store.fetchall(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{r.table}' "
                              "ORDER BY ordinal_position")
        names = ", ".join(c for (c,) in cols)
        extra = store.scalar(f"SELECT count(*) FROM (SELECT {names} FROM {r.table} EXCEPT ALL "
                             f"SELECT {names} FROM ({fresh}))")
        missing = store.scalar(f"SELECT count(*) FROM (SELECT {names} FROM ({fresh}) EXCEPT ALL "
                               f"SELECT {names} FROM {r.table})")
        assert (extra, missing) == (0, 0), f"{r.table}: {extra} stored rows not in raw, {missing} raw rows not stored"
        assert store.scalar(f"SELECT count(*) FROM {r.table}") > 0


def test_rollups_equal_a_recompute_from_raw(tmp_path, crash_db):
    path = tmp_path / "r.duckdb"
    shutil.copyfile(crash_db, path)
    with Store(path) as store:
        assert_rollups_match_raw(store)
        # A late event into an existing minute, a new segment, and late labels.
        minute, flow = store.fetchall("SELECT minute, flow FROM rollup_decisions WHERE flow = 'deposit' "
                                      "ORDER BY minute LIMIT 1")[0]
        some = store.fetchall("SELECT event_id, decision FROM decisions WHERE is_fraud IS NULL "
                              "AND flow = 'deposit' LIMIT 3")
        ts = minute.strftime("%Y-%m-%dT%H:%M:30Z")
        rows = [decision(900001, ts=ts, decision="review", latency_ms="2500"),
                decision(900002, ts=ts, platform="android", region="mars", is_fraud="")]
        ingest_files(store, [write_csv(tmp_path / "late.csv", rows)], "decisions")
        assert_rollups_match_raw(store)
        if some:
            full = store.query("SELECT * FROM decisions WHERE event_id IN (SELECT unnest(?))",
                               [[e for e, _ in some]])
            full["is_fraud"] = "false"
            full["ts"] = full["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            full.to_csv(tmp_path / "labels.csv", index=False)
            r = ingest_files(store, [tmp_path / "labels.csv"], "decisions")
            assert r.rows_updated == len(some)
            assert_rollups_match_raw(store)


def test_rebuild_restores_a_damaged_rollup(tmp_path, crash_db):
    path = tmp_path / "r.duckdb"
    shutil.copyfile(crash_db, path)
    with Store(path) as store:
        with store.write() as w:
            w.execute("DELETE FROM rollup_funnel WHERE flow = 'deposit'")
        with pytest.raises(AssertionError):
            assert_rollups_match_raw(store)
        with store.write() as w:
            rollups.rebuild(w, "funnel")
        assert_rollups_match_raw(store)
