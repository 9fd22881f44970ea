"""The demo's scenario and its incidents, logged as a war room would have."""

from datetime import datetime, timezone

import pytest

from app.domain import flags, incidents, roi
from app.sim.generator import simulate
from app.sim.history import log_truth_incidents
from app.store.db import Store, utcnow
from app.store.ingest import ingest_tables


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory):
    tables, truth = simulate("market-crash-with-history", datetime(2026, 10, 1, tzinfo=timezone.utc), 30, seed=7,
                             scale=0.3)
    path = tmp_path_factory.mktemp("demo") / "d.duckdb"
    with Store(path) as s:
        for kind, t in tables.items():
            ingest_tables(s, kind, [(kind, t)], source="test")
    return path, truth


def test_logs_the_truth_incidents_once_with_their_throttles(demo_like, tmp_path, monkeypatch):
    path, truth = demo_like
    monkeypatch.setenv("WARROOM_FLAGS_FILE", str(tmp_path / "flags.json"))
    assert [i["key"] for i in truth["incidents"]] == ["crash", "injected-0", "injected-1"]
    with Store(path) as s:
        flags.seed_simulator_features(s)
        ids = log_truth_incidents(s, truth)
        assert len(ids) == 3 and log_truth_incidents(s, truth) == []  # a second run adds nothing
        by_title = {i["title"]: i for i in (incidents.get(s, n) for n in ids)}
        crash = next(i for t, i in by_title.items() if t.startswith("Market crash"))
        assert crash["status"] == "acknowledged" and crash["mitigated_at"] is None and crash["resolved_at"] is None
        wd = next(i for t, i in by_title.items() if t.startswith("withdrawal"))
        assert wd["status"] == "resolved"
        inj = next(i for i in truth["incidents"] if i["flows"] == ["withdrawal"])
        throttled = datetime.fromtimestamp(inj["effects"]["mitigated_at_s"], tz=timezone.utc).replace(tzinfo=None)
        assert wd["first_mitigation_at"] == throttled == wd["mitigated_at"]
        log = flags.audit(s)
        assert sorted(log["action"]) == ["restore", "restore", "throttle", "throttle"]
        assert set(log["incident_id"].dropna().astype(int)) == {wd["id"], *(i["id"] for t, i in by_title.items()
                                                                             if t.startswith("loan"))}
        # the throttle stopped most of the loss: the loss rate after it is well below the rate before
        imp = roi.estimate_incident(s, wd, now=utcnow())
        before, after = imp.loss_rates_around_mitigation()
        assert after is not None and after < 0.6 * before
        assert imp.value_per_hour_sooner == pytest.approx(before - after)
