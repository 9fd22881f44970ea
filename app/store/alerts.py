"""SQL for alert rules, alerts and silences."""

from __future__ import annotations

from datetime import datetime

from app.store.control import _row, _rows

RULE_COLS = ("id", "name", "kind", "metric", "filters", "params", "severity", "channels", "runbook", "action",
             "enabled", "created_at", "updated_at", "action_armed")
ALERT_COLS = ("id", "rule_id", "fingerprint", "state", "value", "baseline", "started_at", "fired_at", "resolved_at",
              "acknowledged_by", "acknowledged_at", "incident_id", "acted_at", "silenced")


def insert_rule(w, *, name, kind, metric, filters, params, severity, channels, runbook, action, at) -> int:
    return w.execute("INSERT INTO alert_rules (name, kind, metric, filters, params, severity, channels, runbook, action, "
                     "enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, true, ?, ?) RETURNING id",
                     [name, kind, metric, filters, params, severity, list(channels), runbook, action, at, at]
                     ).fetchall()[0][0]


def rules(cur, *, enabled_only: bool = False) -> list[dict]:
    where = "WHERE enabled" if enabled_only else ""
    return _rows(cur, f"SELECT {', '.join(RULE_COLS)} FROM alert_rules {where} ORDER BY id", [])


def rule_by_name(cur, name: str) -> dict | None:
    return _row(cur, f"SELECT {', '.join(RULE_COLS)} FROM alert_rules WHERE name = ?", [name])


def update_rule(w, rule_id: int, *, params: str, severity: str, runbook, action, enabled: bool, at) -> None:
    w.execute("UPDATE alert_rules SET params = ?, severity = ?, runbook = ?, action = ?, enabled = ?, updated_at = ? "
              "WHERE id = ?", [params, severity, runbook, action, enabled, at, rule_id])


def set_armed(w, rule_id: int, armed: bool) -> None:
    w.execute("UPDATE alert_rules SET action_armed = ? WHERE id = ?", [armed, rule_id])


def active_alert(cur, rule_id: int, fingerprint: str) -> dict | None:
    return _row(cur, f"SELECT {', '.join(ALERT_COLS)} FROM alerts WHERE rule_id = ? AND fingerprint = ? "
                     "AND state IN ('pending', 'firing') ORDER BY id DESC LIMIT 1", [rule_id, fingerprint])


def get_alert(cur, alert_id: int) -> dict | None:
    return _row(cur, f"SELECT {', '.join(ALERT_COLS)} FROM alerts WHERE id = ?", [alert_id])


def insert_alert(w, *, rule_id, fingerprint, value, baseline, at) -> int:
    return w.execute("INSERT INTO alerts (rule_id, fingerprint, state, value, baseline, started_at) "
                     "VALUES (?, ?, 'pending', ?, ?, ?) RETURNING id", [rule_id, fingerprint, value, baseline, at]
                     ).fetchall()[0][0]


def update_alert(w, alert_id: int, **fields) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    w.execute(f"UPDATE alerts SET {sets} WHERE id = ?", [*fields.values(), alert_id])


def alerts_of_rule(cur, rule_id: int, limit: int = 50) -> list[dict]:
    return _rows(cur, f"SELECT {', '.join(ALERT_COLS)} FROM alerts WHERE rule_id = ? ORDER BY id DESC LIMIT {int(limit)}",
                 [rule_id])


def insert_silence(w, *, kind, rule_id, flow, starts_at, ends_at, reason, actor, at) -> int:
    return w.execute("INSERT INTO silences (kind, rule_id, flow, starts_at, ends_at, reason, created_by, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                     [kind, rule_id, flow, starts_at, ends_at, reason, actor, at]).fetchall()[0][0]


def silenced(cur, *, rule_id: int, flow: str | None, at: datetime) -> bool:
    return bool(cur.execute(
        "SELECT count(*) FROM silences WHERE starts_at <= ? AND ends_at > ? AND (rule_id = ? OR rule_id IS NULL) "
        "AND (flow IS NULL OR flow = ?)", [at, at, rule_id, flow]).fetchall()[0][0])


def open_incident_for_flow(cur, flow: str) -> int | None:
    rows = cur.execute("SELECT id FROM incidents WHERE resolved_at IS NULL AND list_contains(flows, ?) "
                       "ORDER BY id DESC LIMIT 1", [flow]).fetchall()
    return rows[0][0] if rows else None


def set_alert_incident(w, alert_id: int, incident_id: int) -> None:
    w.execute("UPDATE alerts SET incident_id = ? WHERE id = ?", [incident_id, alert_id])
