import json
from datetime import timedelta

from app import runtime
from app.domain import alerts, flags
from tests.ui.apptest import open_page


def test_alerts_page_rules_ack_silence_and_new_rule(app_store, tmp_path, monkeypatch, crash_data):
    monkeypatch.setenv("WARROOM_FLAGS_FILE", str(tmp_path / "flags.json"))
    monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/slack")
    s = runtime.open_store(app_store)
    flags.seed_simulator_features(s)
    at = open_page("ui/pages/alerts.py", {})
    assert at.info[0].value == "No alert rules yet."
    next(b for b in at.button if b.label.startswith("Add the default rules")).click().run()
    assert len([d for d in at.dataframe if "armed" in d.value.columns][0].value) == 6
    from datetime import datetime
    start = datetime.fromisoformat(crash_data[1]["incidents"][0]["start"].replace("Z", ""))
    for m in range(7):
        alerts.evaluate(s, now=start + timedelta(hours=12, minutes=m))
    at.run()
    table = [d.value for d in at.dataframe if "armed" in d.value.columns][0].set_index("name")
    assert table.loc["Deposit false positives above 8% for 5 minutes", "state"] == "firing"
    ack = next(b for b in at.button if b.label.startswith("Acknowledge alert #"))
    ack.click().run()
    assert any(x.value.startswith("alert #") and "acknowledged" in x.value for x in at.success)
    assert s.scalar("SELECT acknowledged_by FROM alerts WHERE state = 'firing'") == "demo"
    at.selectbox(key="history_rule").set_value("Deposit false positives above 8% for 5 minutes").run()
    next(b for b in at.button if b.label.startswith("Re-arm the action")).click().run()
    assert s.scalar("SELECT action_armed FROM alert_rules WHERE name LIKE 'Deposit false positives above%'") is True
    at.text_input(key="silence_reason").set_value("model retraining")
    next(b for b in at.button if b.label == "Silence").click().run()
    assert s.scalar("SELECT count(*) FROM silences") == 1
    # a new rule: invalid parameters are explained, valid ones are backtested, then saved
    at.text_input(key="new_name").set_value("Deposit conversion below 4%")
    at.selectbox(key="new_metric").set_value("conversion").run()
    at.text_area(key="new_params_threshold").set_value('{"op": "<", "value": "low"}').run()
    assert any("needs op '>' or '<' and a numeric value" in w.value for w in at.warning)
    at.text_area(key="new_params_threshold").set_value(
        json.dumps({"op": "<", "value": 0.04, "window_minutes": 60, "for_minutes": 0, "min_events": 100})).run()
    assert any(c.value.startswith("Backtest: the rule would have fired") for c in at.caption)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert fig["data"][0]["name"] == "conversion"
    next(b for b in at.button if b.label == "Save rule").click().run()
    assert s.scalar("SELECT count(*) FROM alert_rules") == 7


def test_admin_edits_a_rule_with_validation(app_store, tmp_path, monkeypatch):
    monkeypatch.setenv("WARROOM_FLAGS_FILE", str(tmp_path / "flags.json"))
    s = runtime.open_store(app_store)
    alerts.seed_default_rules(s)
    at = open_page("ui/pages/alerts.py", {})
    at.selectbox(key="history_rule").set_value("No deposit data for 10 minutes").run()
    rid = s.scalar("SELECT id FROM alert_rules WHERE name = 'No deposit data for 10 minutes'")
    at.text_area(key=f"edit_params_{rid}").set_value('{"minutes": 99999}')
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert any("minutes is a whole number of minutes from 0 to 10080" in w.value for w in at.warning), [w.value for w in at.warning] + [e.value for e in at.exception]
    at.text_area(key=f"edit_params_{rid}").set_value('{"minutes": 30}')
    at.checkbox(key=f"edit_enabled_{rid}").uncheck()
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert s.fetchall("SELECT params, enabled FROM alert_rules WHERE id = ?", [rid]) == [('{"minutes": 30}', False)]


def test_settings_come_from_secrets_toml_when_not_in_the_environment(tmp_path, monkeypatch):
    from app import settings
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WARROOM_SLACK_WEBHOOK_URL", raising=False)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('WARROOM_SLACK_WEBHOOK_URL = "http://127.0.0.1:1/slack"\n'
                                                          '[warroom]\npagerduty_routing_key = "from-secrets"\n')
    assert settings.get("slack_webhook_url") == "http://127.0.0.1:1/slack"
    assert settings.get("pagerduty_routing_key") == "from-secrets"
    monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", "http://127.0.0.1:2/slack")
    assert settings.get("slack_webhook_url") == "http://127.0.0.1:2/slack"  # the environment wins
