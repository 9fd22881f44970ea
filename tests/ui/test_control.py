"""AppTest of the control panel and the incidents page: each control, then the
store, the audit log and the flag file."""

import json

import pytest

from app import runtime
from app.domain import accounts, flags
from app.domain.auth import Actor
from tests.ui.apptest import open_page


@pytest.fixture
def control_store(app_store, tmp_path, monkeypatch):
    monkeypatch.setenv("WARROOM_FLAGS_FILE", str(tmp_path / "flags.json"))
    flags.seed_simulator_features(runtime.open_store(app_store))
    return tmp_path / "flags.json"


def flag(path, feature="deposit_fraud_check"):
    return json.loads(path.read_text())["flags"][feature]


WIDGETS = {"state": ("radio", "state_choice"), "percent": ("slider", "percent"), "reason": ("text_input", "reason"),
           "confirm": ("checkbox", "confirm"), "incident": ("selectbox", "incident")}


def submit(at, feature, **values):
    """Fill the feature's state form and press Apply."""
    for name, value in values.items():
        kind, prefix = WIDGETS[name]
        getattr(at, kind)(key=f"{prefix}_{feature}").set_value(value)
    next(b for b in at.button if b.label == f"Apply to {feature}").click().run()
    return at


def test_throttle_then_kill_with_confirmation(control_store):
    at = open_page("ui/pages/control.py", {})
    assert len(at.expander) == 4
    submit(at, "deposit_fraud_check", state="throttled", percent=25, reason="FP at 15%")
    assert at.warning[-1].value == "moving deposit_fraud_check by 75 points needs confirmation"
    submit(at, "deposit_fraud_check", state="throttled", percent=60, reason="FP at 15%")
    assert at.success[0].value.startswith("deposit_fraud_check: on -> throttled 60%")
    assert flag(control_store)["targeting"] == {"fractional": [["model", 60], ["manual_review", 40]]}
    submit(at, "deposit_fraud_check", state="off", reason="still bad")
    assert at.warning[-1].value == "switching deposit_fraud_check off needs confirmation"
    assert flags.get(runtime.store(), "deposit_fraud_check")["state"] == "throttled"
    submit(at, "deposit_fraud_check", state="off", reason="still bad", confirm=True)
    assert flag(control_store)["defaultVariant"] == "manual_review"
    log = flags.audit(runtime.store())
    assert list(log["action"]) == ["kill", "throttle"] and set(log["actor"]) == {"demo"}
    table = [d.value for d in at.dataframe if "actor" in d.value.columns][0]
    assert list(table["action"]) == ["kill", "throttle"]


def test_rollback_and_ramp_controls(control_store):
    at = open_page("ui/pages/control.py", {})
    at.text_input(key="rb_reason_withdrawal_risk_score").set_value("bad deploy")
    next(b for b in at.button if b.label == "Roll back withdrawal_risk_score to 3.3.2").click().run()
    assert flags.get(runtime.store(), "withdrawal_risk_score")["active_version"] == "3.3.2"
    assert flag(control_store, "withdrawal_risk_score")["metadata"]["modelVersion"] == "3.3.2"
    submit(at, "loan_credit_model", state="throttled", percent=60, reason="stale model")
    at.text_input(key="ramp_reason_loan_credit_model").set_value("update shipped")
    next(b for b in at.button if b.label == "Start ramp for loan_credit_model").click().run()
    assert any("ramp #1 started" in s.value for s in at.success)
    flags.run_ramps(runtime.store())  # what the worker does on its next tick
    assert flags.get(runtime.store(), "loan_credit_model")["percent"] == 70
    at.run()
    at.text_input(key="cancel_reason_loan_credit_model").set_value("hold")
    next(b for b in at.button if b.label == "Cancel ramp #1").click().run()
    assert flags.ramps(runtime.store())["status"].iloc[0] == "cancelled"


def test_second_operator_gets_the_conflict(control_store):
    a = open_page("ui/pages/control.py", {})
    b = open_page("ui/pages/control.py", {})
    submit(b, "deposit_fraud_check", state="throttled", percent=60, reason="b first")
    submit(a, "deposit_fraud_check", state="throttled", percent=30, reason="a second")
    assert a.error[0].value.startswith("deposit_fraud_check changed after you loaded it (your version 1, now 2): "
                                       "demo set it to throttled 60%")
    assert flags.get(runtime.store(), "deposit_fraud_check")["percent"] == 60
    submit(a, "deposit_fraud_check", state="throttled", percent=30, reason="a after reload")
    assert flags.get(runtime.store(), "deposit_fraud_check")["percent"] == 30


def test_viewer_sees_no_controls(control_store):
    accounts.add_user(runtime.store(), name="vic", role="viewer", password="correct horse battery")
    from streamlit.testing.v1 import AppTest
    from tests.ui.apptest import MAIN
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    assert [t.value for t in at.title] == ["warroom"] and at.text_input  # the sign-in form, nothing else
    at.session_state["actor"] = Actor("vic", "viewer")
    at.switch_page("ui/pages/control.py")
    at.run()
    assert not at.exception
    assert any("vic (viewer)" in i.value for i in at.info)
    assert not [b for b in at.button if b.label.startswith(("Apply", "Roll back", "Start ramp"))]
    assert len(at.dataframe) >= 1


def test_incident_lifecycle_postmortem_and_messages(control_store):
    at = open_page("ui/pages/incidents.py", {})
    at.text_input(key="new_title").set_value("Deposit FP spike")
    at.selectbox(key="new_severity").set_value("SEV1")
    at.multiselect(key="new_flows").set_value(["deposit"])
    at.multiselect(key="new_features").set_value(["deposit_fraud_check"])
    at.text_input(key="new_commander").set_value("ana")
    next(b for b in at.button if b.label == "Open incident").click().run()
    assert at.success[0].value == "incident #1 opened"
    at.run()
    assert at.header[0].value == "#1 SEV1 · detected · Deposit FP spike"
    assert any(i.value.startswith("Next stakeholder update due") for i in [*at.info, *at.error])
    next(b for b in at.button if b.label == "Mark acknowledged").click().run()
    at.run()
    assert at.header[0].value.startswith("#1 SEV1 · acknowledged")
    at.text_area(key="note_text").set_value("Throttling the model <b>now</b>")
    next(b for b in at.button if b.label == "Add").click().run()
    tl = [d.value for d in at.dataframe if "entry" in d.value.columns][0]
    assert tl["entry"].iloc[0] == "Throttling the model <b>now</b>" and tl["kind"].iloc[0] == "note"
    at.text_area(key="pm_summary").set_value("The model drifted in the crash.")
    next(b for b in at.button if b.label == "Save postmortem").click().run()
    md = at.get("download_button")[0]
    assert md.proto.label == "Export postmortem as Markdown"
    store = runtime.store()
    assert json.loads(store.scalar("SELECT postmortem FROM incidents WHERE id = 1"))["summary"] == \
        "The model drifted in the crash."
    code = at.code[0].value
    assert "deposits" in code and "Your funds are safe" in code
    at.text_area(key="msg_body_banner").set_value("Deposits are slow: {{ title }}")
    next(b for b in at.button if b.label == "Save template").click().run()
    assert at.code[0].value == "Deposits are slow: Deposit FP spike"
    assert store.scalar("SELECT body FROM message_templates WHERE name = 'banner'") == "Deposits are slow: {{ title }}"


def test_free_text_is_shown_as_text(control_store):
    from app.domain import incidents as inc
    from app.domain.auth import Actor as A
    iid = inc.create(runtime.store(), actor=A("ana", "operator"), title="[pay here](http://evil.example) <img src=x>",
                     severity="SEV2", flows=["deposit"], features=[], description="<script>alert(1)</script>")
    at = open_page("ui/pages/incidents.py", {"incident": str(iid)})
    assert at.header[0].value == "#1 SEV2 · detected · \\[pay here\\]\\(http://evil\\.example\\) \\<img src=x\\>"
    assert at.text[0].value == "<script>alert(1)</script>"  # st.text: shown, never run
