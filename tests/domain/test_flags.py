import json
import threading
import time
from datetime import datetime, timedelta

import pytest

from app.domain import flags
from app.domain.auth import Actor, PermissionDenied

OPS = Actor("ana", "operator")
VIEWER = Actor("vic", "viewer")
ADMIN = Actor("root", "admin")
T0 = datetime(2026, 11, 28, 14, 0)


@pytest.fixture
def fstore(store, tmp_path, monkeypatch):
    monkeypatch.setenv("WARROOM_FLAGS_FILE", str(tmp_path / "flags.json"))
    assert flags.seed_simulator_features(store, now=T0) == 4
    assert flags.seed_simulator_features(store, now=T0) == 0  # idempotent
    return store


def flagfile(tmp_path) -> dict:
    return json.loads((tmp_path / "flags.json").read_text())


def version(store, feature="deposit_fraud_check") -> int:
    return int(flags.get(store, feature)["version"])


def test_registry_and_flag_file_start_on(fstore, tmp_path):
    f = flags.features(fstore)
    assert list(f["feature"]) == ["deposit_fraud_check", "loan_credit_model", "personalised_ranking",
                                  "withdrawal_risk_score"]
    assert set(f["state"]) == {"on"} and set(f["percent"]) == {100}
    doc = flagfile(tmp_path)["flags"]["deposit_fraud_check"]
    assert doc["defaultVariant"] == "model" and doc["variants"] == {"model": "model", "manual_review": "manual_review"}
    assert "targeting" not in doc and doc["metadata"]["modelVersion"] == "2026.11.2"


def test_throttle_kill_restore_write_audit_and_file(fstore, tmp_path):
    c = flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="throttled", percent=70,
                        reason="FP spike", expected_version=1, at=T0)
    assert (c.action, c.old["percent"], c.new["percent"], c.version) == ("throttle", 100, 70, 2)
    doc = flagfile(tmp_path)["flags"]["deposit_fraud_check"]
    assert doc["targeting"] == {"fractional": [["model", 70], ["manual_review", 30]]}
    with pytest.raises(flags.ConfirmationRequired, match="switching deposit_fraud_check off needs confirmation"):
        flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="off", reason="x", expected_version=2)
    assert version(fstore) == 2
    flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="off", reason="kill it",
                    expected_version=2, confirm=True)
    doc = flagfile(tmp_path)["flags"]["deposit_fraud_check"]
    assert doc["defaultVariant"] == "manual_review" and "targeting" not in doc
    with pytest.raises(flags.ConfirmationRequired, match="moving deposit_fraud_check by 100 points"):
        flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="on", reason="ok", expected_version=3)
    flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="on", reason="fixed", expected_version=3,
                    confirm=True)
    log = flags.audit(fstore, feature="deposit_fraud_check")
    assert list(log["action"]) == ["restore", "kill", "throttle"]
    assert json.loads(log["old_state"].iloc[2]) == {"state": "on", "percent": 100, "active_version": "2026.11.2"}
    assert list(log["actor"]) == ["ana"] * 3 and log["reason"].iloc[1] == "kill it"
    assert len(flags.audit(fstore, action="kill")) == 1


def test_viewer_is_refused_in_the_domain(fstore):
    with pytest.raises(PermissionDenied, match="vic \\(viewer\\) may not change ML features: it needs the operator role"):
        flags.set_state(fstore, actor=VIEWER, feature="deposit_fraud_check", state="throttled", percent=50,
                        reason="x", expected_version=1)
    with pytest.raises(PermissionDenied):
        flags.rollback(fstore, actor=VIEWER, feature="deposit_fraud_check", reason="x", expected_version=1)
    with pytest.raises(PermissionDenied):
        flags.start_ramp(fstore, actor=VIEWER, feature="deposit_fraud_check", reason="x")
    with pytest.raises(PermissionDenied):
        flags.register(fstore, actor=OPS, feature="new", flow="deposit", model="m", version="1", fallback="rules")
    assert version(fstore) == 1 and flags.audit(fstore).empty


def test_bad_requests_get_clear_messages(fstore):
    kw = dict(actor=OPS, feature="deposit_fraud_check", expected_version=1)
    with pytest.raises(flags.FlagError, match="a reason is required"):
        flags.set_state(fstore, state="throttled", percent=50, reason="   ", **kw)
    with pytest.raises(flags.FlagError, match="the reason is 501 characters; at most 500"):
        flags.set_state(fstore, state="throttled", percent=50, reason="x" * 501, **kw)
    with pytest.raises(flags.FlagError, match="1 to 99 percent"):
        flags.set_state(fstore, state="throttled", percent=0, reason="x", **kw)
    with pytest.raises(flags.FlagError, match="already on"):
        flags.set_state(fstore, state="on", reason="x", **kw)
    with pytest.raises(flags.FlagError, match="no incident #99"):
        flags.set_state(fstore, state="throttled", percent=60, reason="x", incident_id=99, **kw)
    with pytest.raises(flags.FlagError, match="unknown feature 'nope'"):
        flags.set_state(fstore, actor=OPS, feature="nope", state="off", reason="x", expected_version=1)


def test_stale_version_is_a_conflict_naming_the_winner(fstore):
    flags.set_state(fstore, actor=Actor("bo", "operator"), feature="deposit_fraud_check", state="throttled",
                    percent=60, reason="bo was first", expected_version=1, at=T0)
    with pytest.raises(flags.ConflictError) as ei:
        flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="throttled", percent=40,
                        reason="mine", expected_version=1)
    assert str(ei.value) == ("deposit_fraud_check changed after you loaded it (your version 1, now 2): bo set it to "
                             "throttled 60% at 14:00:00 UTC (bo was first). Reload and decide again.")
    assert ei.value.winner["actor"] == "bo"


def test_rollback_to_the_previous_version(fstore, tmp_path):
    assert flags.previous_version(fstore, "withdrawal_risk_score") == "3.3.2"
    c = flags.rollback(fstore, actor=OPS, feature="withdrawal_risk_score", reason="bad deploy", expected_version=1,
                       at=T0)
    assert (c.action, c.old["active_version"], c.new["active_version"]) == ("rollback", "3.4.0", "3.3.2")
    v = flags.versions(fstore, "withdrawal_risk_score")
    assert v.iloc[0]["version"] == "3.3.2" and pd_isna(v.iloc[0]["retired_at"])
    assert v.iloc[1]["version"] == "3.4.0" and v.iloc[1]["retired_at"] == T0
    assert flagfile(tmp_path)["flags"]["withdrawal_risk_score"]["metadata"]["modelVersion"] == "3.3.2"


def pd_isna(x):
    import pandas as pd
    return pd.isna(x)


def test_ramp_steps_pauses_on_alert_and_cancels(fstore):
    flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="throttled", percent=20, reason="spike",
                    expected_version=1, confirm=True, at=T0)
    rid = flags.start_ramp(fstore, actor=OPS, feature="deposit_fraud_check", reason="recovered", step=10,
                           every_minutes=10, at=T0)
    with pytest.raises(flags.FlagError, match="already has a ramp running"):
        flags.start_ramp(fstore, actor=OPS, feature="deposit_fraud_check", reason="again", at=T0)
    assert flags.run_ramps(fstore, now=T0) == [f"ramp #{rid} to 30%"]
    assert flags.run_ramps(fstore, now=T0 + timedelta(minutes=5)) == []
    assert flags.run_ramps(fstore, now=T0 + timedelta(minutes=10)) == [f"ramp #{rid} to 40%"]
    assert flags.run_ramps(fstore, now=T0 + timedelta(minutes=20),
                           alerting_features={"deposit_fraud_check"}) == [f"ramp #{rid} paused"]
    assert flags.get(fstore, "deposit_fraud_check")["percent"] == 40
    assert flags.ramps(fstore)["status"].iloc[0] == "paused"
    assert flags.run_ramps(fstore, now=T0 + timedelta(minutes=21)) == [f"ramp #{rid} to 50%"]
    flags.cancel_ramp(fstore, actor=OPS, ramp_id=rid, reason="holding at 50")
    assert flags.run_ramps(fstore, now=T0 + timedelta(hours=2)) == []
    r = flags.ramps(fstore).iloc[0]
    assert r["status"] == "cancelled" and r["note"] == "cancelled by ana: holding at 50"
    log = flags.audit(fstore, feature="deposit_fraud_check")
    assert list(log["action"])[:3] == ["ramp", "ramp", "ramp"] and log["actor"].iloc[0].startswith(f"ramp #{rid}")


def test_ramp_runs_to_done(fstore):
    flags.set_state(fstore, actor=OPS, feature="loan_credit_model", state="throttled", percent=85, reason="x",
                    expected_version=1, at=T0)
    rid = flags.start_ramp(fstore, actor=OPS, feature="loan_credit_model", reason="back", step=10, at=T0)
    flags.run_ramps(fstore, now=T0)
    assert flags.get(fstore, "loan_credit_model")["percent"] == 95
    flags.run_ramps(fstore, now=T0 + timedelta(minutes=10))
    f = flags.get(fstore, "loan_credit_model")
    assert (f["state"], f["percent"]) == ("on", 100) and flags.ramps(fstore)["status"].iloc[0] == "done"


def test_linked_incident_gets_timeline_and_time_to_toggle(fstore):
    with fstore.write() as w:
        w.execute("INSERT INTO incidents (title, severity, status, flows, features, detected_at, created_at) "
                  "VALUES ('FP spike', 'SEV1', 'acknowledged', ['deposit'], ['deposit_fraud_check'], ?, ?)", [T0, T0])
    flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="throttled", percent=60, reason="mitigate",
                    expected_version=1, incident_id=1, at=T0 + timedelta(minutes=7))
    assert fstore.scalar("SELECT first_mitigation_at FROM incidents WHERE id = 1") == T0 + timedelta(minutes=7)
    flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="throttled", percent=30, reason="more",
                    expected_version=2, incident_id=1, at=T0 + timedelta(minutes=9))
    assert fstore.scalar("SELECT first_mitigation_at FROM incidents WHERE id = 1") == T0 + timedelta(minutes=7)
    events = fstore.fetchall("SELECT kind, actor, body FROM incident_events WHERE incident_id = 1 ORDER BY id")
    assert events[0] == ("flag_change", "ana", "deposit_fraud_check throttle: on -> throttled 60% (mitigate)")


def test_twenty_operators_at_once(fstore, tmp_path):
    """20 threads race to change one feature from the version each read: the audit log,
    the final state and the flag file agree, and every loser got a ConflictError."""
    start = threading.Barrier(20)
    results = []

    def worker(i):
        seen = version(fstore)
        start.wait()
        try:
            c = flags.set_state(fstore, actor=Actor(f"op{i}", "operator"), feature="deposit_fraud_check",
                                state="throttled", percent=10 + i * 4, reason=f"op{i}", expected_version=seen,
                                confirm=True)
            results.append(("ok", i, c.version))
        except flags.ConflictError as exc:
            results.append(("conflict", i, str(exc)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if r[0] == "ok"]
    assert len(results) == 20 and len(wins) == 1
    assert all("changed after you loaded it" in r[2] for r in results if r[0] == "conflict")
    log = flags.audit(fstore, feature="deposit_fraud_check")
    assert len(log) == 1 and log["actor"].iloc[0] == f"op{wins[0][1]}"
    f = flags.get(fstore, "deposit_fraud_check")
    assert f["percent"] == 10 + wins[0][1] * 4 and f["version"] == 2
    doc = flagfile(tmp_path)["flags"]["deposit_fraud_check"]
    assert doc["targeting"]["fractional"][0] == ["model", f["percent"]]
    # Then each retries on the fresh version, one after another: all land, in order.
    for i in range(20):
        flags.set_state(fstore, actor=Actor(f"op{i}", "operator"), feature="deposit_fraud_check", state="throttled",
                        percent=1 + i, reason="retry", expected_version=version(fstore), confirm=True)
    assert len(flags.audit(fstore, feature="deposit_fraud_check")) == 21
    assert flagfile(tmp_path)["flags"]["deposit_fraud_check"]["targeting"]["fractional"][0] == ["model", 20]


def test_real_flagd_provider_follows_the_file(fstore, tmp_path):
    from openfeature import api
    from openfeature.contrib.provider.flagd import FlagdProvider
    from openfeature.contrib.provider.flagd.config import ResolverType
    from openfeature.evaluation_context import EvaluationContext

    flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="throttled", percent=30, reason="spike",
                    expected_version=1, confirm=True)
    api.set_provider(FlagdProvider(resolver_type=ResolverType.FILE,
                                   offline_flag_source_path=str(tmp_path / "flags.json")))
    client = api.get_client()

    def share() -> float:
        """Percent of 10,000 targeting keys routed to the model (None while the provider reloads)."""
        vals = [client.get_string_value("deposit_fraud_check", "unset", EvaluationContext(targeting_key=f"user-{i}"))
                for i in range(10_000)]
        if set(vals) - {"model", "manual_review"}:
            return None
        return 100 * vals.count("model") / len(vals)

    def settle(expected: float) -> float:
        deadline = time.time() + 30
        got = share()
        while (got is None or abs(got - expected) > 2) and time.time() < deadline:
            time.sleep(0.5)
            got = share()
        return got

    try:
        assert abs(settle(30) - 30) <= 2
        flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="throttled", percent=80,
                        reason="better", expected_version=2, confirm=True)
        assert abs(settle(80) - 80) <= 2  # the running provider picked the change up, no restart
        flags.set_state(fstore, actor=OPS, feature="deposit_fraud_check", state="off", reason="kill",
                        expected_version=3, confirm=True)
        assert settle(0) == 0
        assert client.get_string_value("deposit_fraud_check", "unset", EvaluationContext(targeting_key="u1")) == "manual_review"
    finally:
        api.shutdown()
