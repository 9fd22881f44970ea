"""SQL for the control tables: features, model versions, flag changes (the audit
log, append-only: there is no function here that updates or deletes one), ramps,
users and message templates."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from app.store.db import Store

FEATURE_COLS = ("feature", "flow", "model", "description", "active_version", "fallback", "state", "percent",
                "version", "updated_at")


def _row(cur: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict | None:
    res = cur.execute(sql, params)
    names = [d[0] for d in res.description]
    rows = res.fetchall()
    return dict(zip(names, rows[0])) if rows else None


def _rows(cur, sql: str, params: list) -> list[dict]:
    res = cur.execute(sql, params)
    names = [d[0] for d in res.description]
    return [dict(zip(names, r)) for r in res.fetchall()]


# -- features ------------------------------------------------------------------
def get_feature(cur, feature: str) -> dict | None:
    return _row(cur, f"SELECT {', '.join(FEATURE_COLS)} FROM features WHERE feature = ?", [feature])


def all_features(cur) -> list[dict]:
    return _rows(cur, f"SELECT {', '.join(FEATURE_COLS)} FROM features ORDER BY flow, feature", [])


def insert_feature(w, *, feature: str, flow: str, model: str, description: str, version: str, fallback: str,
                   at: datetime) -> None:
    w.execute("INSERT INTO features (feature, flow, model, description, active_version, fallback, state, percent, "
              "version, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'on', 100, 1, ?)",
              [feature, flow, model, description, version, fallback, at])


def update_feature(w, feature: str, *, state: str, percent: int, active_version: str, at: datetime) -> None:
    w.execute("UPDATE features SET state = ?, percent = ?, active_version = ?, version = version + 1, updated_at = ? "
              "WHERE feature = ?", [state, percent, active_version, at, feature])


# -- model versions --------------------------------------------------------------
def add_model_version(w, *, feature: str, model: str, version: str, activated_at: datetime,
                      retired_at: datetime | None, note: str = "") -> None:
    w.execute("INSERT INTO model_versions (feature, model, version, activated_at, retired_at, note) "
              "VALUES (?, ?, ?, ?, ?, ?)", [feature, model, version, activated_at, retired_at, note])


def model_versions(cur, feature: str) -> list[dict]:
    return _rows(cur, "SELECT feature, model, version, activated_at, retired_at, note FROM model_versions "
                      "WHERE feature = ? ORDER BY activated_at DESC", [feature])


def activate_version(w, *, feature: str, version: str, previous: str, at: datetime) -> None:
    w.execute("UPDATE model_versions SET retired_at = ? WHERE feature = ? AND version = ?", [at, feature, previous])
    w.execute("UPDATE model_versions SET activated_at = ?, retired_at = NULL WHERE feature = ? AND version = ?",
              [at, feature, version])


# -- flag changes: the audit log (append only) -----------------------------------
def append_flag_change(w, *, at: datetime, actor: str, feature: str, action: str, old_state: str, new_state: str,
                       reason: str, incident_id: int | None) -> int:
    return w.execute("INSERT INTO flag_changes (changed_at, actor, feature, action, old_state, new_state, reason, "
                     "incident_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                     [at, actor, feature, action, old_state, new_state, reason, incident_id]).fetchall()[0][0]


def last_flag_change(cur, feature: str) -> dict | None:
    return _row(cur, "SELECT id, changed_at, actor, feature, action, old_state, new_state, reason, incident_id "
                     "FROM flag_changes WHERE feature = ? ORDER BY id DESC LIMIT 1", [feature])


def audit_log(store: Store, *, feature: str | None = None, actor: str | None = None, action: str | None = None,
              since: datetime | None = None, limit: int = 1000) -> pd.DataFrame:
    where, params = ["true"], []
    for col, value in (("feature", feature), ("actor", actor), ("action", action)):
        if value:
            where.append(f"{col} = ?")
            params.append(value)
    if since is not None:
        where.append("changed_at >= ?")
        params.append(since)
    return store.query("SELECT id, changed_at, actor, feature, action, old_state, new_state, reason, incident_id "
                       f"FROM flag_changes WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT {int(limit)}", params)


# -- ramps -----------------------------------------------------------------------
RAMP_COLS = ("id", "feature", "target_percent", "step", "every_minutes", "next_at", "status", "created_by",
             "created_at", "reason", "incident_id", "updated_at", "note")


def insert_ramp(w, *, feature: str, target: int, step: int, every: int, next_at: datetime, actor: str,
                at: datetime, reason: str, incident_id: int | None) -> int:
    return w.execute("INSERT INTO ramps (feature, target_percent, step, every_minutes, next_at, status, created_by, "
                     "created_at, reason, incident_id, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?) "
                     "RETURNING id", [feature, target, step, every, next_at, actor, at, reason, incident_id, at]
                     ).fetchall()[0][0]


def ramps(cur, *, feature: str | None = None, live_only: bool = False) -> list[dict]:
    where, params = ["true"], []
    if feature:
        where.append("feature = ?")
        params.append(feature)
    if live_only:
        where.append("status IN ('active', 'paused')")
    return _rows(cur, f"SELECT {', '.join(RAMP_COLS)} FROM ramps WHERE {' AND '.join(where)} ORDER BY id DESC", params)


def get_ramp(cur, ramp_id: int) -> dict | None:
    return _row(cur, f"SELECT {', '.join(RAMP_COLS)} FROM ramps WHERE id = ?", [ramp_id])


def update_ramp(w, ramp_id: int, *, status: str, next_at: datetime, at: datetime, note: str | None) -> None:
    w.execute("UPDATE ramps SET status = ?, next_at = ?, updated_at = ?, note = ? WHERE id = ?",
              [status, next_at, at, note, ramp_id])


# -- incidents (what the flag functions touch) ------------------------------------
def incident_exists(cur, incident_id: int) -> bool:
    return bool(cur.execute("SELECT count(*) FROM incidents WHERE id = ?", [incident_id]).fetchall()[0][0])


def add_incident_event(w, *, incident_id: int, at: datetime, actor: str, kind: str, body: str) -> None:
    w.execute("INSERT INTO incident_events (incident_id, ts, actor, kind, body) VALUES (?, ?, ?, ?, ?)",
              [incident_id, at, actor, kind, body])


def mark_first_mitigation(w, *, incident_id: int, at: datetime) -> None:
    w.execute("UPDATE incidents SET first_mitigation_at = ? WHERE id = ? AND first_mitigation_at IS NULL",
              [at, incident_id])


# -- users and templates ---------------------------------------------------------
def get_user(cur, name: str) -> dict | None:
    return _row(cur, "SELECT name, role, password_hash, created_at FROM users WHERE name = ?", [name])


def upsert_user(w, *, name: str, role: str, password_hash: str, at: datetime) -> None:
    w.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) "
              "ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
              [name, role, password_hash, at])


def count_users(cur) -> int:
    return cur.execute("SELECT count(*) FROM users").fetchall()[0][0]


def templates(cur) -> list[dict]:
    return _rows(cur, "SELECT name, title, body, updated_at, updated_by FROM message_templates ORDER BY name", [])


def upsert_template(w, *, name: str, title: str, body: str, at: datetime, actor: str) -> None:
    w.execute("INSERT INTO message_templates (name, title, body, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
              "ON CONFLICT (name) DO UPDATE SET title = excluded.title, body = excluded.body, "
              "updated_at = excluded.updated_at, updated_by = excluded.updated_by", [name, title, body, at, actor])
