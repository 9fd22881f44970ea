from datetime import datetime, timedelta

import pytest

from app.domain import incidents as inc
from app.domain import messages
from app.domain.auth import Actor, PermissionDenied

OPS = Actor("ana", "operator")
T0 = datetime(2026, 11, 28, 14, 0)


def new(store, **kw):
    args = dict(actor=OPS, title="Deposit FP spike", severity="SEV1", flows=["deposit"], features=[],
                commander="ana", comms_lead="bo", description="15% of deposits held", detected_at=T0, at=T0)
    args.update(kw)
    return inc.create(store, **args)


def test_lifecycle_stamps_and_enforced_order(store):
    iid = new(store, started_at=T0 - timedelta(minutes=20))
    inc.transition(store, actor=OPS, incident_id=iid, to="acknowledged", at=T0 + timedelta(minutes=3))
    inc.transition(store, actor=OPS, incident_id=iid, to="resolved", at=T0 + timedelta(hours=2))
    i = inc.get(store, iid)
    assert i["status"] == "resolved" and i["mitigated_at"] == T0 + timedelta(hours=2)  # skipped state stamped too
    with pytest.raises(inc.IncidentError, match="already resolved"):
        inc.transition(store, actor=OPS, incident_id=iid, to="mitigated")
    with pytest.raises(inc.IncidentError) as ei:
        inc.set_times(store, actor=OPS, incident_id=iid, times={"acknowledged_at": T0 - timedelta(minutes=1)})
    assert str(ei.value) == ("detected (2026-11-28 14:00) cannot be after acknowledged (2026-11-28 13:59); the order "
                             "is started <= detected <= acknowledged <= mitigated <= resolved <= postmortem")
    inc.set_times(store, actor=OPS, incident_id=iid, times={"mitigated_at": T0 + timedelta(minutes=40)})
    rt = inc.recovery_times(inc.get(store, iid))
    assert (rt.time_to_detect, rt.time_to_acknowledge, rt.time_to_mitigate) == (
        timedelta(minutes=20), timedelta(minutes=3), timedelta(minutes=60))
    kinds = list(inc.timeline(store, iid)["kind"])
    assert kinds == ["edit", "state", "state", "state"]  # newest first


def test_validation_and_roles(store):
    with pytest.raises(PermissionDenied):
        new(store, actor=Actor("v", "viewer"))
    with pytest.raises(inc.IncidentError, match="title is required"):
        new(store, title="  ")
    with pytest.raises(inc.IncidentError, match="title is 201 characters; at most 200"):
        new(store, title="x" * 201)
    with pytest.raises(inc.IncidentError, match="severity must be one of SEV1, SEV2, SEV3, SEV4"):
        new(store, severity="P1")
    with pytest.raises(inc.IncidentError, match="affected flows: unknown moon"):
        new(store, flows=["moon"])
    with pytest.raises(inc.IncidentError, match="started .* cannot be after detected"):
        new(store, started_at=T0 + timedelta(hours=1))
    assert store.scalar("SELECT count(*) FROM incidents") == 0


def test_cadence_for_sev1_and_sev2(store):
    iid = new(store)
    i = inc.get(store, iid)
    assert inc.next_update_due(i, inc.timeline(store, iid), now=T0) == T0 + timedelta(minutes=5)
    inc.add_note(store, actor=OPS, incident_id=iid, text="status page updated", kind="stakeholder_update",
                 at=T0 + timedelta(minutes=4))
    assert inc.next_update_due(i, inc.timeline(store, iid), now=T0) == T0 + timedelta(minutes=24)
    low = inc.get(store, new(store, severity="SEV3"))
    assert inc.next_update_due(low, inc.timeline(store, low["id"]), now=T0) is None


def test_notes_are_text_and_postmortem_exports_markdown(store):
    iid = new(store)
    inc.add_note(store, actor=OPS, incident_id=iid, text="<script>alert(1)</script> | pipes", at=T0 + timedelta(minutes=1))
    inc.save_postmortem(store, actor=OPS, incident_id=iid,
                        fields={"summary": "The fraud model drifted.", "root_cause_technical": "Volatility features",
                                "root_cause_ux": "Held deposits showed a generic error"},
                        action_items=[{"action": "Add drift alert", "owner": "ml-team", "due": "2026-12-15"},
                                      {"action": "", "owner": "x"}])
    i = inc.get(store, iid)
    md = inc.postmortem_markdown(i, inc.timeline(store, iid), [("Conversion", "3.10%", "9.00%")])
    assert md.startswith("# Postmortem: incident #1: Deposit FP spike\n")
    assert "| Conversion | 3.10% | 9.00% |" in md and "| Add drift alert | ml-team | 2026-12-15 |" in md
    assert "The fraud model drifted." in md and "<script>alert(1)</script> \\| pipes" not in md
    assert "ana · note: <script>alert(1)</script> | pipes" in md  # stored and exported as text
    assert len(inc.postmortem(i)["action_items"]) == 1


def test_messages_render_calmly_in_a_sandbox(store):
    iid = new(store, flows=["deposit", "withdrawal"])
    i = inc.get(store, iid)
    ctx = messages.context(i, next_update=T0 + timedelta(minutes=5))
    t = messages.templates(store)
    assert set(t) == {"banner", "status_page", "support_macro", "exec_summary"}
    banner = messages.render(t["banner"]["body"], ctx)
    assert "deposits and withdrawals" in banner and "Your funds are safe" in banner and "2026-11-28 14:05 UTC" in banner
    macro = messages.render(t["support_macro"]["body"], ctx)
    assert macro.startswith("Hi {{ customer_name }},")  # left for the support tool to fill
    with pytest.raises(messages.MessageError, match="cannot be rendered"):
        messages.render("{{ ''.__class__.__mro__[1].__subclasses__() }}", ctx)
    with pytest.raises(messages.MessageError, match="cannot be rendered"):
        messages.render("{{ nope }}", ctx)
    with pytest.raises(messages.MessageError, match="syntax error"):
        messages.save_template(store, actor=OPS, name="banner", body="{% if %}")
    messages.save_template(store, actor=OPS, name="banner", body="All good: {{ title }}")
    assert messages.render(messages.templates(store)["banner"]["body"], ctx) == "All good: Deposit FP spike"
    with pytest.raises(PermissionDenied):
        messages.save_template(store, actor=Actor("v", "viewer"), name="banner", body="x")
