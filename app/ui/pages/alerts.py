"""Alerts: every rule with its current state and value, its history, firing alerts
to acknowledge, silences, deliveries that failed, and (for admins) new rules,
backtested over stored history before they are saved."""

import json
from datetime import timedelta

import streamlit as st

from app import runtime
from app.domain import alerts, detect, kpis
from app.domain.auth import PermissionDenied
from app.notify import outbox
from app.store import queries
from app.store.db import utcnow
from app.ui import auth, charts, components

store = runtime.store()
actor = auth.actor()
tz = components.viewer_tz()
now = utcnow()
st.title("Alerts")
components.show_flash()

status = alerts.rule_status(store)
if status.empty:
    st.info("No alert rules yet.")
    if actor.can("admin") and st.button("Add the default rules for the simulator's flows", key="seed_rules"):
        alerts.seed_default_rules(store)
        st.rerun()
else:
    st.dataframe(status, hide_index=True, key="rules_table")

firing = queries.firing_alerts(store)
st.subheader("Firing")
if firing.empty:
    st.caption("No alerts firing.")
else:
    st.dataframe(firing, hide_index=True, key="firing_table")
    if actor.can("operator"):
        for _, a in firing.iterrows():
            if st.button(f"Acknowledge alert #{a['id']} ({a['name']})", key=f"ack_{a['id']}"):
                try:
                    alerts.acknowledge(store, actor=actor, alert_id=int(a["id"]))
                    components.flash(f"alert #{a['id']} acknowledged")
                except (alerts.RuleError, PermissionDenied) as exc:
                    st.warning(str(exc))

if not status.empty:
    st.subheader("History of a rule")
    names = list(status["name"])
    name = st.selectbox("Rule", names, key="history_rule")
    rule = status[status["name"] == name].iloc[0]
    st.dataframe(alerts.alert_history(store, int(rule["id"])), hide_index=True, key="history_table")
    if actor.can("admin"):
        with st.form("edit_rule"):
            current = alerts.get_rule(store, name)
            e_params = st.text_area("Parameters (JSON)", current["params"], key=f"edit_params_{rule['id']}")
            e_sev = st.selectbox("Severity", list(alerts.SEVERITIES),
                                 index=list(alerts.SEVERITIES).index(current["severity"]), key=f"edit_sev_{rule['id']}")
            e_action = st.text_input("Action (JSON, optional)", current["action"] or "", key=f"edit_action_{rule['id']}")
            e_runbook = st.text_input("Runbook", current["runbook"] or "", key=f"edit_runbook_{rule['id']}")
            e_enabled = st.checkbox("Enabled", bool(current["enabled"]), key=f"edit_enabled_{rule['id']}")
            if st.form_submit_button("Save changes"):
                try:
                    alerts.update_rule(store, actor=actor, name=name, params=json.loads(e_params), severity=e_sev,
                                       enabled=e_enabled, runbook=e_runbook or None,
                                       action=json.loads(e_action) if e_action.strip() else None)
                    components.flash(f"rule {name!r} updated")
                except (ValueError, alerts.RuleError, PermissionDenied) as exc:
                    st.warning(str(exc))
    if actor.can("operator") and rule["action"] and not rule["armed"]:
        if st.button(f"Re-arm the action of {name}", key="rearm"):
            alerts.rearm(store, actor=actor, rule_name=name)
            components.flash(f"{name}: action re-armed")
    if actor.can("operator"):
        with st.form("silence"):
            hours = st.number_input("Silence this rule for (hours)", 0.25, 168.0, 1.0, step=0.25, key="silence_hours")
            maintenance = st.checkbox("This is a maintenance window", key="silence_maint")
            reason = st.text_input("Reason", max_chars=500, key="silence_reason")
            if st.form_submit_button("Silence"):
                try:
                    sid = alerts.silence(store, actor=actor, reason=reason, rule_name=name,
                                         ends_at=now + timedelta(hours=float(hours)),
                                         kind="maintenance" if maintenance else "silence")
                    components.flash(f"silence #{sid} until {components.local_time(now + timedelta(hours=float(hours)), tz)}")
                except alerts.RuleError as exc:
                    st.warning(str(exc))

st.subheader("Deliveries")
failed = outbox.listing(store, status="failed")
pending = outbox.listing(store, status="pending")
c1, c2 = st.columns(2)
c1.metric("Waiting to be sent", len(pending))
c2.metric("Failed", len(failed))
if len(failed):
    st.error(f"{len(failed)} notification(s) could not be delivered; see the last error of each.")
    st.dataframe(failed[["id", "created_at", "channel", "event", "attempts", "last_error"]], hide_index=True,
                 key="failed_table")

if actor.can("admin"):
    st.subheader("New rule")
    kind = st.selectbox("Kind", ["threshold", "change", "anomaly", "no_data", "composite"], key="new_kind")
    examples = {"threshold": {"op": ">", "value": 0.05, "window_minutes": 15, "for_minutes": 5, "min_events": 20},
                "change": {"baseline": "last_week", "direction": "up", "change": 0.2, "window_minutes": 15,
                           "for_minutes": 0, "min_events": 50},
                "anomaly": {"detector": "seasonal_robust", "threshold": 0.5, "bucket": "15m", "history_days": 8},
                "no_data": {"minutes": 10}, "composite": {"all": []}}
    rname = st.text_input("Name", max_chars=120, key="new_name")
    metric = st.selectbox("Metric", list(kpis.KPI_BY_KEY), key="new_metric")
    flow = st.selectbox("Flow", queries.flows_present(store) or ["deposit"], key="new_flow")
    severity = st.selectbox("Severity", list(alerts.SEVERITIES), index=1, key="new_sev")
    params_text = st.text_area("Parameters (JSON)", json.dumps(examples[kind]), key=f"new_params_{kind}")
    action_text = st.text_input('Action (JSON, optional), e.g. {"type": "throttle", "feature": "deposit_fraud_check", '
                                '"percent": 50}', "", key="new_action")
    runbook = st.text_input("Runbook link (optional)", "", max_chars=500, key="new_runbook")
    try:
        params = json.loads(params_text)
        action = json.loads(action_text) if action_text.strip() else None
        alerts.validate(name=rname or "unnamed", kind=kind, metric=metric, filters={"flow": flow}, params=params,
                        severity=severity, action=action)
        valid = True
    except (ValueError, alerts.RuleError) as exc:
        st.warning(f"Not valid yet: {exc}")
        valid = False
    if valid and kind in ("threshold", "change", "anomaly"):
        end = (queries.newest_event(store) or now).replace(second=0, microsecond=0) + timedelta(minutes=1)
        days = st.slider("Backtest over the last (days)", 1, 30, 7, key="bt_days")
        bt = alerts.backtest(store, kind=kind, metric=metric, filters={"flow": flow}, params=params,
                             start=end - timedelta(days=days), end=end)
        episodes = detect.episodes(bt["firing"].to_numpy(dtype=bool))
        st.caption(f"Backtest: the rule would have fired {episodes} time(s) in the last {days} days "
                   "(red); incidents in amber.")
        st.plotly_chart(charts.rule_backtest(bt, metric=metric, tz=tz,
                                             incidents=queries.incidents_overlapping(store, start=end - timedelta(days=days), end=end),
                                             threshold=params.get("value") if kind == "threshold" else None),
                        key="bt_chart")
    if valid and st.button("Save rule", key="save_rule"):
        try:
            alerts.create_rule(store, actor=actor, name=rname, kind=kind, metric=metric, filters={"flow": flow},
                               params=params, severity=severity, action=action, runbook=runbook or None)
            components.flash(f"rule {rname!r} saved; the worker evaluates it from now on")
        except (alerts.RuleError, PermissionDenied) as exc:
            st.warning(str(exc))
