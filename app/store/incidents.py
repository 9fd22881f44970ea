"""SQL for incidents, their timeline and postmortems."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from app.store.control import _row, _rows
from app.store.db import Store

COLS = ("id", "title", "severity", "status", "flows", "features", "commander", "comms_lead", "description",
        "started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "postmortem_at", "created_at",
        "first_mitigation_at", "postmortem", "version")
STAMPS = ("started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "postmortem_at")


def insert(w, *, title, severity, flows, features, commander, comms_lead, description, started_at, detected_at,
           at: datetime) -> int:
    return w.execute("INSERT INTO incidents (title, severity, status, flows, features, commander, comms_lead, "
                     "description, started_at, detected_at, created_at) VALUES (?, ?, 'detected', ?, ?, ?, ?, ?, ?, ?, ?) "
                     "RETURNING id", [title, severity, list(flows), list(features), commander, comms_lead, description,
                                      started_at, detected_at, at]).fetchall()[0][0]


def get(cur, incident_id: int) -> dict | None:
    return _row(cur, f"SELECT {', '.join(COLS)} FROM incidents WHERE id = ?", [incident_id])


def all_incidents(store: Store, limit: int = 500) -> pd.DataFrame:
    return store.query(f"SELECT {', '.join(COLS)} FROM incidents ORDER BY id DESC LIMIT {int(limit)}")


def update(w, incident_id: int, *, fields: dict) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    w.execute(f"UPDATE incidents SET {sets}, version = version + 1 WHERE id = ?", [*fields.values(), incident_id])


def events(cur, incident_id: int) -> list[dict]:
    return _rows(cur, "SELECT id, ts, actor, kind, body FROM incident_events WHERE incident_id = ? ORDER BY ts DESC, id DESC",
                 [incident_id])


def alerts_of(cur, incident_id: int) -> list[dict]:
    return _rows(cur, "SELECT a.id, a.state, a.fired_at, a.resolved_at, r.name FROM alerts a "
                      "JOIN alert_rules r ON r.id = a.rule_id WHERE a.incident_id = ?", [incident_id])


def flag_changes_of(cur, incident_id: int) -> list[dict]:
    return _rows(cur, "SELECT id, changed_at, actor, feature, action, reason FROM flag_changes WHERE incident_id = ? "
                      "ORDER BY id", [incident_id])
