import shutil
from datetime import datetime, timedelta

import pytest

from app.store import queries
from app.store.db import Store


@pytest.fixture
def crash_store(tmp_path, crash_db):
    path = tmp_path / "q.duckdb"
    shutil.copyfile(crash_db, path)
    s = Store(path)
    yield s
    s.close()


def test_newest_event_from_rollups_equals_raw_max(crash_store):
    s = crash_store
    raw = s.scalar("SELECT greatest((SELECT max(ts) FROM decisions), (SELECT max(ts) FROM funnel))")
    assert queries.newest_event(s) == raw
    for until in (datetime(2026, 10, 5, 12, 0), datetime(2026, 10, 5, 12, 0, 30), datetime(2026, 10, 9, 3, 17, 59)):
        expected = s.scalar("SELECT greatest((SELECT max(ts) FROM decisions WHERE ts <= ?), "
                            "(SELECT max(ts) FROM funnel WHERE ts <= ?))", [until, until])
        assert queries.newest_event(s, until=until) == expected
    assert queries.newest_event(s, until=datetime(2020, 1, 1)) is None


def test_hard_limits(crash_store, monkeypatch):
    seg = queries.Segment(flow="deposit")
    t = datetime(2026, 10, 5)
    with pytest.raises(queries.QueryLimitError, match="longer than the limit of 400 days"):
        queries.series(crash_store, seg, start=t - timedelta(days=500), end=t, bucket="1d")
    with pytest.raises(queries.QueryLimitError, match="unknown bucket '2m'"):
        queries.series(crash_store, seg, start=t - timedelta(days=1), end=t, bucket="2m")
    with pytest.raises(queries.QueryLimitError, match="empty time range"):
        queries.window_sums(crash_store, seg, start=t, end=t)
    monkeypatch.setenv("WARROOM_MAX_ROWS", "5")
    assert len(queries.series(crash_store, seg, start=t - timedelta(days=1), end=t, bucket="1h")) == 5


def test_segment_filters_narrow_the_sums(crash_store):
    t0, t1 = datetime(2026, 10, 3), datetime(2026, 10, 4)
    every = queries.window_sums(crash_store, queries.Segment(flow="deposit"), start=t0, end=t1)
    parts = [queries.window_sums(crash_store, queries.Segment(flow="deposit", platform=p), start=t0, end=t1)
             for p in ("web", "ios", "android")]
    assert every["n"] == sum(p["n"] for p in parts) > 0
    assert every["n_start"] == sum(p["n_start"] for p in parts) > 0
    raw = crash_store.scalar("SELECT count(*) FROM decisions WHERE flow = 'deposit' AND platform = 'ios' "
                             "AND ts >= ? AND ts < ?", [t0, t1])
    assert parts[1]["n"] == raw
