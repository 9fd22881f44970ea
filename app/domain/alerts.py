"""Alert rules on the joined metrics, evaluated by the worker on the rollups.

Kinds: `threshold` (the metric over a window above/below a value), `change`
(against the same window last week, or the trailing 24 hours), `anomaly` (a
streaming detector from domain/detect.py on the per-minute series), `no_data`
(no events for the flow for N minutes) and `composite` (all named rules firing).
States: pending (the condition holds, not yet for long enough), firing,
resolved; a person acknowledges. One break is one alert (a stable fingerprint
per rule and filters). Firing and resolving write notifications to the outbox
(not while a silence or maintenance window covers the rule); a rule with an
action throttles, switches off or rolls back a feature once, then waits for a
person to re-arm it; SEV1/SEV2 rules can open an incident, and alerts on a flow
with an open incident join it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from app import settings
from app.domain import detect, flags, kpis, metrics
from app.domain import incidents as inc
from app.domain.auth import SYSTEM, Actor, require
from app.notify import outbox
from app.notify.payloads import AlertEvent
from app.store import alerts as sql
from app.store import control, queries
from app.store.db import Store, utcnow
from app.store.schema import LATENCY_EDGES_MS

KINDS = ("threshold", "change", "anomaly", "no_data", "composite")
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
DENOMINATOR = {"false_positive_rate": "n_legit", "decline_rate": "n", "review_rate": "n", "latency_p95_ms": "n",
               "conversion": "n_start", "bounce_rate": "n_view", "tickets_per_hour": None, "survey_score": "n_surveys"}


COUNTS = {"false_positive_rate": ("n_false_positive", "n_legit"), "decline_rate": ("n_decline", "n"),
          "review_rate": ("n_review", "n"), "conversion": ("n_complete", "n_start")}


def _anomaly_scores(r: pd.DataFrame, metric: str, params: dict) -> np.ndarray:
    if params.get("detector") == "binomial":
        k, n = COUNTS[metric]
        return detect.binomial(r[k].to_numpy(), r[n].to_numpy())
    return detect.score(params.get("detector", detect.DEFAULT), r[metric].to_numpy(dtype=float), r["bucket"].to_numpy())


class RuleError(ValueError):
    pass


def fingerprint(rule: dict) -> str:
    return hashlib.sha1(f"{rule['id']}|{rule['filters']}".encode()).hexdigest()[:16]


def _segment(filters: dict) -> queries.Segment:
    return queries.Segment(flow=filters["flow"], feature=filters.get("feature"),
                           platform=filters.get("platform"), region=filters.get("region"))


def validate(*, name: str, kind: str, metric: str, filters: dict, params: dict, severity: str,
             action: dict | None) -> None:
    if not name or len(name) > 120:
        raise RuleError("a rule name is 1 to 120 characters")
    if kind not in KINDS:
        raise RuleError(f"kind must be one of {', '.join(KINDS)}")
    if severity not in SEVERITIES:
        raise RuleError(f"severity must be one of {', '.join(SEVERITIES)}")
    if kind != "composite" and metric not in kpis.KPI_BY_KEY and kind != "no_data":
        raise RuleError(f"unknown metric {metric!r}; expected one of: {', '.join(kpis.KPI_BY_KEY)}")
    if filters.get("flow") not in settings.get("flows"):
        raise RuleError("filters need a flow (one of: " + ", ".join(settings.get("flows")) + ")")
    if kind == "threshold" and (params.get("op") not in (">", "<") or not isinstance(params.get("value"), (int, float))):
        raise RuleError("a threshold rule needs op '>' or '<' and a numeric value")
    if kind == "change" and (params.get("baseline") not in ("last_week", "trailing_24h")
                             or params.get("direction") not in ("up", "down")
                             or not isinstance(params.get("change"), (int, float)) or params["change"] <= 0):
        raise RuleError("a change rule needs baseline last_week|trailing_24h, direction up|down and change > 0")
    if kind == "anomaly" and params.get("detector", detect.DEFAULT) not in (*detect.DETECTORS, "binomial"):
        raise RuleError(f"unknown detector; expected one of: {', '.join(detect.DETECTORS)}, binomial")
    if kind == "anomaly" and params.get("detector") == "binomial" and metric not in COUNTS:
        raise RuleError(f"the binomial detector needs a rate of counted events: {', '.join(COUNTS)}")
    if kind == "composite" and not params.get("all"):
        raise RuleError("a composite rule lists the rules that must all fire: params {'all': [names]}")
    for key in ("window_minutes", "for_minutes", "minutes"):
        if key in params and not (isinstance(params[key], int) and 0 <= params[key] <= 10080):
            raise RuleError(f"{key} is a whole number of minutes from 0 to 10080")
    if action:
        if action.get("type") not in ("throttle", "kill", "rollback") or not action.get("feature"):
            raise RuleError("an action is {'type': throttle|kill|rollback, 'feature': ..., 'percent': N}")
        if action["type"] == "throttle" and not 1 <= int(action.get("percent", 0)) <= 99:
            raise RuleError("a throttle action needs a percent from 1 to 99")


def create_rule(store: Store, *, actor: Actor, name: str, kind: str, metric: str, filters: dict, params: dict,
                severity: str, channels: list[str] | None = None, runbook: str | None = None,
                action: dict | None = None) -> int:
    require(actor, "admin", "edit alert rules")
    validate(name=name, kind=kind, metric=metric, filters=filters, params=params, severity=severity, action=action)
    with store.write() as w:
        if sql.rule_by_name(w, name):
            raise RuleError(f"a rule named {name!r} exists")
        return sql.insert_rule(w, name=name, kind=kind, metric=metric, filters=json.dumps(filters, sort_keys=True),
                               params=json.dumps(params, sort_keys=True), severity=severity,
                               channels=channels or list(outbox.CHANNELS), runbook=runbook,
                               action=json.dumps(action) if action else None, at=utcnow())


def update_rule(store: Store, *, actor: Actor, name: str, params: dict, severity: str, enabled: bool,
                runbook: str | None = None, action: dict | None = None) -> None:
    """Change an existing rule's parameters, severity, action, runbook or switch it off (admin)."""
    require(actor, "admin", "edit alert rules")
    r = sql.rule_by_name(store.cursor(), name)
    if r is None:
        raise RuleError(f"no rule {name!r}")
    validate(name=name, kind=r["kind"], metric=r["metric"], filters=json.loads(r["filters"]), params=params,
             severity=severity, action=action)
    with store.write() as w:
        sql.update_rule(w, r["id"], params=json.dumps(params, sort_keys=True), severity=severity, runbook=runbook,
                        action=json.dumps(action) if action else None, enabled=enabled, at=utcnow())


DEFAULT_RULES = [
    dict(name="Deposit false positives above 8% for 5 minutes", kind="threshold", metric="false_positive_rate",
         filters={"flow": "deposit"}, severity="SEV1",
         params={"op": ">", "value": 0.08, "window_minutes": 60, "for_minutes": 5, "min_events": 20,
                 "open_incident": True},
         action={"type": "throttle", "feature": "deposit_fraud_check", "percent": 50},
         runbook="https://runbooks.example/warroom/deposit-false-positives"),
    dict(name="Withdrawal declines up 20% against last week", kind="change", metric="decline_rate",
         filters={"flow": "withdrawal"}, severity="SEV2",
         params={"baseline": "last_week", "direction": "up", "change": 0.2, "window_minutes": 15, "for_minutes": 0,
                 "min_events": 50}),
    dict(name="Withdrawal decline spike", kind="anomaly", metric="decline_rate", filters={"flow": "withdrawal"},
         severity="SEV1", params={"detector": "binomial", "threshold": 0.5, "bucket": "1m", "history_days": 2},
         action={"type": "rollback", "feature": "withdrawal_risk_score"}),
    dict(name="Deposit conversion anomaly", kind="anomaly", metric="conversion", filters={"flow": "deposit"},
         severity="SEV2", params={"detector": detect.DEFAULT, "threshold": 0.5, "bucket": "15m", "history_days": 8}),
    dict(name="No deposit data for 10 minutes", kind="no_data", metric="", filters={"flow": "deposit"},
         severity="SEV2", params={"minutes": 10}),
    dict(name="Deposit false positives up and conversion down", kind="composite", metric="", filters={"flow": "deposit"},
         severity="SEV1", params={"all": ["Deposit false positives above 8% for 5 minutes",
                                          "Deposit conversion anomaly"]}),
]


def seed_default_rules(store: Store) -> int:
    added = 0
    for r in DEFAULT_RULES:
        if sql.rule_by_name(store.cursor(), r["name"]) is None:
            create_rule(store, actor=SYSTEM, **r)
            added += 1
    return added


def get_rule(store: Store, name: str) -> dict:
    r = sql.rule_by_name(store.cursor(), name)
    if r is None:
        raise RuleError(f"no rule {name!r}")
    return r


def rules(store: Store) -> pd.DataFrame:
    return pd.DataFrame(sql.rules(store.cursor()), columns=list(sql.RULE_COLS))


# ------------------------------------------------------------------ evaluation
def _value(store: Store, rule: dict, filters: dict, params: dict, now: datetime) -> tuple[float, float | None, bool]:
    """(value, baseline, condition) of a rule at `now`."""
    kind, metric = rule["kind"], rule["metric"]
    seg = _segment(filters)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # the current minute counts as it fills
    if kind == "no_data":
        newest = queries.newest_event(store, until=now)
        age = (now - newest).total_seconds() / 60 if newest else float("inf")
        return age, None, age > params.get("minutes", 10)
    if kind == "composite":
        firing = {r["name"] for r in sql.rules(store.cursor())
                  if (a := sql.active_alert(store.cursor(), r["id"], fingerprint(r))) and a["state"] == "firing"}
        return float(len(set(params["all"]) & firing)), float(len(params["all"])), set(params["all"]) <= firing
    if kind == "anomaly":
        bucket = params.get("bucket", "1m")
        minutes = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60}[bucket]
        end = end - timedelta(minutes=1)  # a detector scores whole buckets only
        start = end - timedelta(days=params.get("history_days", 8))
        counts = queries.series(store, seg, start=start, end=end, bucket=bucket)
        if len(counts) < 10:
            return float("nan"), None, False
        r = metrics.add_funnel_rates(metrics.add_decision_rates(counts))
        x = r[metric].to_numpy(dtype=float)
        scores = _anomaly_scores(r, metric, params)
        last_complete = r["bucket"].iloc[-1] + timedelta(minutes=minutes) <= end
        i = -1 if last_complete else -2
        return float(x[i]), float(scores[i]), bool(scores[i] >= params.get("threshold", 0.5))
    window = timedelta(minutes=params.get("window_minutes", 15))
    sums = queries.window_sums(store, seg, start=end - window, end=end)
    hours = window.total_seconds() / 3600
    value = kpis.values(sums, hours=hours, latency_edges=LATENCY_EDGES_MS)[metric]
    den = DENOMINATOR.get(metric)
    enough = den is None or sums[den] >= params.get("min_events", 0)
    if kind == "threshold":
        cond = enough and not np.isnan(value) and (value > params["value"] if params["op"] == ">" else value < params["value"])
        return value, float(params["value"]), bool(cond)
    # change
    if params["baseline"] == "last_week":
        b = queries.window_sums(store, seg, start=end - window - timedelta(days=7), end=end - timedelta(days=7))
        bh = hours
    else:
        b = queries.window_sums(store, seg, start=end - window - timedelta(hours=24), end=end - window)
        bh = 24.0
    base = kpis.values(b, hours=bh, latency_edges=LATENCY_EDGES_MS)[metric]
    if not enough or np.isnan(value) or np.isnan(base) or base == 0:
        return value, base, False
    rel = (value - base) / abs(base)
    cond = rel >= params["change"] if params["direction"] == "up" else rel <= -params["change"]
    if cond and metric in COUNTS:  # and not just noise: the two rates differ significantly
        k, n = COUNTS[metric]
        cond = two_proportion_p(sums[k], sums[n], b[k], b[n]) < params.get("max_p", 1e-4)
    return value, base, bool(cond)


def two_proportion_p(k1: float, n1: float, k2: float, n2: float) -> float:
    """Two-sided p-value that k1/n1 and k2/n2 come from one rate (pooled normal approximation)."""
    import math
    if n1 <= 0 or n2 <= 0:
        return 1.0
    p = (k1 + k2) / (n1 + n2)
    if p <= 0 or p >= 1:
        return 1.0
    z = abs(k1 / n1 - k2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return math.erfc(z / math.sqrt(2))


def _event(rule: dict, alert: dict, state: str, filters: dict) -> AlertEvent:
    return AlertEvent(
        alert_id=int(alert["id"]), fingerprint=alert["fingerprint"], rule=rule["name"], state=state,
        severity=rule["severity"], metric=rule["metric"] or rule["kind"], value=alert["value"],
        baseline=alert["baseline"], labels={k: v for k, v in filters.items() if v}, started_at=alert["started_at"],
        ended_at=alert["resolved_at"], runbook=rule["runbook"],
        link=f"{settings.get('public_url')}/war-room?flow={filters['flow']}")


def _act(store: Store, rule: dict, alert: dict, action: dict, now: datetime) -> str | None:
    actor = Actor(f"rule: {rule['name']}"[:100], "operator")
    f = flags.get(store, action["feature"])
    reason = f"alert #{alert['id']} ({rule['name']}): value {alert['value']:.4g}"
    try:
        if action["type"] == "rollback":
            flags.rollback(store, actor=actor, feature=action["feature"], reason=reason, expected_version=f["version"],
                           incident_id=alert["incident_id"], at=now)
        else:
            flags.set_state(store, actor=actor, feature=action["feature"],
                            state="off" if action["type"] == "kill" else "throttled",
                            percent=action.get("percent"), reason=reason, expected_version=f["version"],
                            incident_id=alert["incident_id"], confirm=True, at=now)
    except flags.FlagError as exc:
        return f"action not taken: {exc}"
    with store.write() as w:
        sql.set_armed(w, rule["id"], False)
        sql.update_alert(w, alert["id"], acted_at=now)
    return f"{action['type']} {action['feature']}"


def evaluate(store: Store, *, now: datetime | None = None) -> list[str]:
    """One evaluation of every enabled rule. Returns what happened, for the log."""
    now = now or utcnow()
    log = []
    for rule in sql.rules(store.cursor(), enabled_only=True):
        filters, params = json.loads(rule["filters"]), json.loads(rule["params"])
        fp = fingerprint(rule)
        try:
            value, baseline, cond = _value(store, rule, filters, params, now)
        except Exception as exc:  # one broken rule must not stop the others
            log.append(f"{rule['name']}: evaluation failed: {exc}")
            continue
        value = None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)
        active = sql.active_alert(store.cursor(), rule["id"], fp)
        quiet = sql.silenced(store.cursor(), rule_id=rule["id"], flow=filters.get("flow"), at=now)
        hold = timedelta(minutes=params.get("for_minutes", 0))
        if cond and active is None:
            with store.write() as w:
                aid = sql.insert_alert(w, rule_id=rule["id"], fingerprint=fp, value=value, baseline=baseline, at=now)
            active = sql.get_alert(store.cursor(), aid)
            log.append(f"{rule['name']}: pending ({value})")
        if cond and active["state"] == "pending" and now - active["started_at"] >= hold:
            incident_id = control_incident(store, rule, filters, params, now)
            with store.write() as w:
                sql.update_alert(w, active["id"], state="firing", fired_at=now, value=value, baseline=baseline,
                                 silenced=quiet, incident_id=incident_id)
            active = sql.get_alert(store.cursor(), active["id"])
            if incident_id is not None:
                with store.write() as w:
                    control.add_incident_event(w, incident_id=incident_id, at=now, actor="alerting", kind="alert",
                                               body=f"alert fired: {rule['name']} (value {value})")
            if not quiet:
                outbox.enqueue(store, _event(rule, active, "firing", filters), rule["channels"], at=now)
                if rule["action"] and rule["action_armed"]:
                    log.append(f"{rule['name']}: {_act(store, rule, active, json.loads(rule['action']), now)}")
            log.append(f"{rule['name']}: firing ({value})" + (" [silenced]" if quiet else ""))
        elif cond and active["state"] == "firing":
            with store.write() as w:
                sql.update_alert(w, active["id"], value=value, baseline=baseline)
        elif not cond and active is not None:
            state = "resolved" if active["state"] == "firing" else "cancelled"
            with store.write() as w:
                sql.update_alert(w, active["id"], state=state, resolved_at=now, value=value)
            if state == "resolved":
                done = sql.get_alert(store.cursor(), active["id"])
                if not active["silenced"] and not quiet:
                    outbox.enqueue(store, _event(rule, done, "resolved", filters), rule["channels"], at=now)
                log.append(f"{rule['name']}: resolved")
    return log


def control_incident(store: Store, rule: dict, filters: dict, params: dict, now: datetime) -> int | None:
    """The open incident of the rule's flow, or a new one for SEV1/SEV2 rules that ask for it."""
    found = sql.open_incident_for_flow(store.cursor(), filters["flow"])
    if found is not None or not params.get("open_incident") or rule["severity"] not in ("SEV1", "SEV2"):
        return found
    feature = (json.loads(rule["action"]) or {}).get("feature") if rule["action"] else None
    return inc.create(store, actor=SYSTEM, title=f"Alert: {rule['name']}"[:200], severity=rule["severity"],
                      flows=[filters["flow"]], features=[feature] if feature else [],
                      description=f"Opened by the alert rule '{rule['name']}'.", detected_at=now, at=now)


def acknowledge(store: Store, *, actor: Actor, alert_id: int) -> None:
    require(actor, "operator", "acknowledge alerts")
    a = sql.get_alert(store.cursor(), alert_id)
    if a is None or a["state"] != "firing":
        raise RuleError(f"alert #{alert_id} is not firing")
    with store.write() as w:
        sql.update_alert(w, alert_id, acknowledged_by=actor.name, acknowledged_at=utcnow())
    rule = next(r for r in sql.rules(store.cursor()) if r["id"] == a["rule_id"])
    if not a["silenced"]:
        outbox.enqueue(store, _event(rule, sql.get_alert(store.cursor(), alert_id), "acknowledged",
                                     json.loads(rule["filters"])), rule["channels"])


def rearm(store: Store, *, actor: Actor, rule_name: str) -> None:
    require(actor, "operator", "re-arm rule actions")
    r = sql.rule_by_name(store.cursor(), rule_name)
    if r is None:
        raise RuleError(f"no rule {rule_name!r}")
    with store.write() as w:
        sql.set_armed(w, r["id"], True)


def silence(store: Store, *, actor: Actor, reason: str, ends_at: datetime, rule_name: str | None = None,
            flow: str | None = None, starts_at: datetime | None = None, kind: str = "silence") -> int:
    """Mute notifications and actions of a rule (or every rule of a flow) until ends_at."""
    require(actor, "operator", "silence alerts")
    if not (reason or "").strip():
        raise RuleError("a silence needs a reason")
    start = starts_at or utcnow()
    if ends_at <= start:
        raise RuleError("a silence ends after it starts")
    rule_id = None
    if rule_name:
        r = sql.rule_by_name(store.cursor(), rule_name)
        if r is None:
            raise RuleError(f"no rule {rule_name!r}")
        rule_id = r["id"]
    with store.write() as w:
        return sql.insert_silence(w, kind=kind, rule_id=rule_id, flow=flow, starts_at=start, ends_at=ends_at,
                                  reason=reason.strip(), actor=actor.name, at=utcnow())


# ------------------------------------------------------------------ backtest over stored history
def backtest(store: Store, *, kind: str, metric: str, filters: dict, params: dict, start: datetime,
             end: datetime) -> pd.DataFrame:
    """Where a rule would have fired over [start, end), minute by minute.

    Columns: bucket, value, baseline, condition, firing. Threshold and change rules
    use rolling sums of the per-minute counts over the rule's window (the same
    metric definitions as live evaluation); anomaly rules score the bucket series.
    """
    if kind not in ("threshold", "change", "anomaly"):
        raise RuleError("backtests cover threshold, change and anomaly rules")
    seg = _segment(filters)
    bucket = params.get("bucket", "1m") if kind == "anomaly" else "1m"
    counts = queries.series(store, seg, start=start, end=end, bucket=bucket)
    if counts.empty:
        return pd.DataFrame(columns=["bucket", "value", "baseline", "condition", "firing"])
    width = {"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h"}[bucket]
    idx = pd.date_range(counts["bucket"].min(), counts["bucket"].max(), freq=width)
    c = counts.set_index("bucket").reindex(idx, fill_value=0)
    c.index.name = "bucket"
    if kind == "anomaly":
        r = metrics.add_funnel_rates(metrics.add_decision_rates(c.reset_index()))
        value = r[metric].to_numpy(dtype=float)
        score = _anomaly_scores(r, metric, params)
        cond = score >= params.get("threshold", 0.5)
        out = pd.DataFrame({"bucket": r["bucket"], "value": value, "baseline": score, "condition": cond})
    else:
        w = int(params.get("window_minutes", 15))
        roll = c.rolling(w, min_periods=1).sum().reset_index()
        r = metrics.add_funnel_rates(metrics.add_decision_rates(roll))
        value = r[metric].to_numpy(dtype=float)
        den = DENOMINATOR.get(metric)
        enough = (roll[den] >= params.get("min_events", 0)).to_numpy() if den else np.ones(len(r), bool)
        if kind == "threshold":
            base = np.full(len(r), float(params["value"]))
            cond = enough & ((value > base) if params["op"] == ">" else (value < base))
        else:
            lag = 7 * 1440
            base = np.concatenate([np.full(min(lag, len(value)), np.nan), value[:-lag]]) if len(value) > lag \
                else np.full(len(value), np.nan)
            rel = (value - base) / np.abs(base)
            cond = enough & np.isfinite(rel) & ((rel >= params["change"]) if params["direction"] == "up"
                                                 else (rel <= -params["change"]))
        out = pd.DataFrame({"bucket": r["bucket"], "value": value, "baseline": base, "condition": cond})
    hold = int(params.get("for_minutes", 0))
    run = out["condition"].astype(int).groupby((~out["condition"]).cumsum()).cumsum()
    out["firing"] = run > hold if hold else out["condition"]
    return out.reset_index(drop=True)


def alert_history(store: Store, rule_id: int) -> pd.DataFrame:
    return pd.DataFrame(sql.alerts_of_rule(store.cursor(), rule_id), columns=list(sql.ALERT_COLS))


def rule_status(store: Store) -> pd.DataFrame:
    """Every rule with its latest alert's state and value."""
    rows = []
    for r in sql.rules(store.cursor()):
        last = sql.alerts_of_rule(store.cursor(), r["id"], limit=1)
        a = last[0] if last else {}
        f = json.loads(r["filters"])
        rows.append({"id": r["id"], "name": r["name"], "kind": r["kind"], "metric": r["metric"], "flow": f.get("flow"),
                     "severity": r["severity"], "state": a.get("state", "ok") if a.get("state") in ("pending", "firing")
                     else "ok", "value": a.get("value"), "since": a.get("fired_at") or a.get("started_at"),
                     "acknowledged_by": a.get("acknowledged_by"), "action": r["action"] or "",
                     "armed": bool(r["action_armed"]), "enabled": bool(r["enabled"])})
    return pd.DataFrame(rows, columns=["id", "name", "kind", "metric", "flow", "severity", "state", "value", "since",
                                       "acknowledged_by", "action", "armed", "enabled"])
