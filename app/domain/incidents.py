"""Incidents: severity, lifecycle with enforced time order, timeline, status-update
cadence, postmortem with a Markdown export, and recovery times for the ROI work."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from app import settings
from app.domain.auth import Actor, require
from app.store import control
from app.store import incidents as sql
from app.store.db import Store, utcnow

SEVERITIES = {
    "SEV1": "Critical: a core money flow (deposit, withdrawal, trade) is broken or wrongly blocking many users. "
            "All hands; stakeholder updates every 20 minutes.",
    "SEV2": "Major: a flow is degraded for a segment, or an ML feature misbehaves with visible user impact. "
            "Stakeholder updates every 20 minutes.",
    "SEV3": "Minor: limited user impact with a workaround; handled in working hours.",
    "SEV4": "Low: internal or cosmetic; no user impact.",
}
LIFECYCLE = ("detected", "acknowledged", "mitigated", "resolved", "postmortem")
STAMP_OF = {"detected": "detected_at", "acknowledged": "acknowledged_at", "mitigated": "mitigated_at",
            "resolved": "resolved_at", "postmortem": "postmortem_at"}
ORDER = ("started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "postmortem_at")
LIMITS = {"title": 200, "description": 5000, "commander": 100, "comms_lead": 100, "note": 5000}
FIRST_UPDATE = timedelta(minutes=5)
UPDATE_EVERY = timedelta(minutes=20)
POSTMORTEM_FIELDS = ("summary", "root_cause_technical", "root_cause_ux", "contributing_factors", "what_went_well")


class IncidentError(ValueError):
    pass


def _text(name: str, value: str | None, *, required: bool = False) -> str:
    v = (value or "").strip()
    if required and not v:
        raise IncidentError(f"{name} is required")
    if len(v) > LIMITS.get(name, 5000):
        raise IncidentError(f"{name} is {len(v)} characters; at most {LIMITS.get(name, 5000)}")
    return v


def check_order(times: dict) -> None:
    """started <= detected <= acknowledged <= mitigated <= resolved <= postmortem, for those set."""
    present = [(k, times.get(k)) for k in ORDER if times.get(k) is not None]
    for (a, ta), (b, tb) in zip(present, present[1:]):
        if pd.Timestamp(ta) > pd.Timestamp(tb):
            raise IncidentError(f"{a.replace('_at', '')} ({pd.Timestamp(ta):%Y-%m-%d %H:%M}) cannot be after "
                                f"{b.replace('_at', '')} ({pd.Timestamp(tb):%Y-%m-%d %H:%M}); the order is "
                                "started <= detected <= acknowledged <= mitigated <= resolved <= postmortem")


def create(store: Store, *, actor: Actor, title: str, severity: str, flows: list[str], features: list[str],
           commander: str = "", comms_lead: str = "", description: str = "", started_at: datetime | None = None,
           detected_at: datetime | None = None, at: datetime | None = None) -> int:
    require(actor, "operator", "open incidents")
    now = at or utcnow()
    title = _text("title", title, required=True)
    if severity not in SEVERITIES:
        raise IncidentError(f"severity must be one of {', '.join(SEVERITIES)}")
    unknown = [f for f in flows if f not in settings.get("flows")]
    if unknown or not flows:
        raise IncidentError("affected flows: " + (f"unknown {', '.join(unknown)}" if unknown else "pick at least one"))
    detected_at = detected_at or now
    check_order({"started_at": started_at, "detected_at": detected_at})
    with store.write() as w:
        known = {f["feature"] for f in control.all_features(w)}
        if known and set(features) - known:
            raise IncidentError(f"unknown features: {', '.join(sorted(set(features) - known))}")
        iid = sql.insert(w, title=title, severity=severity, flows=flows, features=features,
                         commander=_text("commander", commander), comms_lead=_text("comms_lead", comms_lead),
                         description=_text("description", description), started_at=started_at,
                         detected_at=detected_at, at=now)
        control.add_incident_event(w, incident_id=iid, at=now, actor=actor.name, kind="state",
                                   body=f"opened as {severity}: {title}")
    return iid


def get(store: Store, incident_id: int) -> dict:
    inc = sql.get(store.cursor(), incident_id)
    if inc is None:
        raise IncidentError(f"no incident #{incident_id}")
    return inc


def list_all(store: Store) -> pd.DataFrame:
    return sql.all_incidents(store)


def _expect(inc: dict, expected_version: int | None) -> None:
    if expected_version is not None and int(inc["version"]) != int(expected_version):
        raise IncidentError(f"incident #{inc['id']} changed after you loaded it; reload and try again")


def transition(store: Store, *, actor: Actor, incident_id: int, to: str, at: datetime | None = None,
               expected_version: int | None = None) -> None:
    """Move to the next lifecycle state, stamping its time."""
    require(actor, "operator", "change incidents")
    if to not in LIFECYCLE:
        raise IncidentError(f"unknown state {to!r}; the lifecycle is {' -> '.join(LIFECYCLE)}")
    now = at or utcnow()
    with store.write() as w:
        inc = sql.get(w, incident_id)
        if inc is None:
            raise IncidentError(f"no incident #{incident_id}")
        _expect(inc, expected_version)
        if LIFECYCLE.index(to) <= LIFECYCLE.index(inc["status"]):
            raise IncidentError(f"incident #{incident_id} is already {inc['status']}")
        fields = {"status": to}
        # skipped states get the same stamp (a fix that mitigates and resolves at once)
        for s in LIFECYCLE[LIFECYCLE.index(inc["status"]) + 1: LIFECYCLE.index(to) + 1]:
            if inc[STAMP_OF[s]] is None:
                fields[STAMP_OF[s]] = now
        check_order({**inc, **fields})
        sql.update(w, incident_id, fields=fields)
        control.add_incident_event(w, incident_id=incident_id, at=now, actor=actor.name, kind="state",
                                   body=f"{inc['status']} -> {to}")


def set_times(store: Store, *, actor: Actor, incident_id: int, times: dict, expected_version: int | None = None) -> None:
    """Edit stamps for backfill; the order is enforced with a clear message."""
    require(actor, "operator", "change incidents")
    bad = set(times) - set(ORDER)
    if bad:
        raise IncidentError(f"unknown times: {', '.join(sorted(bad))}")
    with store.write() as w:
        inc = sql.get(w, incident_id)
        if inc is None:
            raise IncidentError(f"no incident #{incident_id}")
        _expect(inc, expected_version)
        check_order({**inc, **times})
        sql.update(w, incident_id, fields=dict(times))
        changes = ", ".join(f"{k.replace('_at', '')} = {pd.Timestamp(v):%Y-%m-%d %H:%M}" if v is not None
                            else f"{k.replace('_at', '')} cleared" for k, v in times.items())
        control.add_incident_event(w, incident_id=incident_id, at=utcnow(), actor=actor.name, kind="edit",
                                   body=f"times edited: {changes}")


def add_note(store: Store, *, actor: Actor, incident_id: int, text: str, kind: str = "note",
             at: datetime | None = None) -> None:
    require(actor, "operator", "write on incidents")
    body = _text("note", text, required=True)
    with store.write() as w:
        if sql.get(w, incident_id) is None:
            raise IncidentError(f"no incident #{incident_id}")
        control.add_incident_event(w, incident_id=incident_id, at=at or utcnow(), actor=actor.name, kind=kind,
                                   body=body)


def timeline(store: Store, incident_id: int) -> pd.DataFrame:
    """Notes, state changes, flag changes and alerts, newest first, with who and when."""
    cur = store.cursor()
    rows = [{"ts": e["ts"], "actor": e["actor"], "kind": e["kind"], "entry": e["body"]} for e in sql.events(cur, incident_id)]
    for a in sql.alerts_of(cur, incident_id):
        if a["fired_at"] is not None:
            rows.append({"ts": a["fired_at"], "actor": "alerting", "kind": "alert", "entry": f"alert fired: {a['name']}"})
        if a["resolved_at"] is not None:
            rows.append({"ts": a["resolved_at"], "actor": "alerting", "kind": "alert", "entry": f"alert resolved: {a['name']}"})
    df = pd.DataFrame(rows, columns=["ts", "actor", "kind", "entry"])
    return df.sort_values("ts", ascending=False, kind="stable").reset_index(drop=True)


def next_update_due(inc: dict, tl: pd.DataFrame, *, now: datetime) -> datetime | None:
    """SEV1/SEV2 only, while unresolved: 5 minutes after detection, then 20 after the last update."""
    if inc["severity"] not in ("SEV1", "SEV2") or inc["resolved_at"] is not None:
        return None
    updates = tl[tl["kind"] == "stakeholder_update"]["ts"] if len(tl) else []
    if len(updates):
        return pd.Timestamp(max(updates)).to_pydatetime() + UPDATE_EVERY
    return (inc["detected_at"] or inc["created_at"]) + FIRST_UPDATE


@dataclass(frozen=True)
class RecoveryTimes:
    time_to_detect: timedelta | None
    time_to_acknowledge: timedelta | None
    time_to_mitigate: timedelta | None
    time_to_resolve: timedelta | None
    time_to_toggle: timedelta | None  # detection to the first mitigating flag change


def recovery_times(inc: dict) -> RecoveryTimes:
    def gap(a, b):
        return None if inc.get(a) is None or inc.get(b) is None else inc[b] - inc[a]
    start = "started_at" if inc.get("started_at") is not None else "detected_at"
    return RecoveryTimes(gap("started_at", "detected_at"), gap("detected_at", "acknowledged_at"),
                         gap(start, "mitigated_at"), gap(start, "resolved_at"),
                         gap("detected_at", "first_mitigation_at"))


def save_postmortem(store: Store, *, actor: Actor, incident_id: int, fields: dict, action_items: list[dict]) -> None:
    require(actor, "operator", "write postmortems")
    doc = {k: _text(k, fields.get(k, "")) for k in POSTMORTEM_FIELDS}
    items = []
    for i, it in enumerate(action_items):
        text = _text("note", it.get("action", ""))
        if not text:
            continue
        due = it.get("due")
        items.append({"action": text, "owner": _text("commander", it.get("owner", "")),
                      "due": str(pd.Timestamp(due).date()) if due not in (None, "") and not pd.isna(due) else ""})
    doc["action_items"] = items
    with store.write() as w:
        if sql.get(w, incident_id) is None:
            raise IncidentError(f"no incident #{incident_id}")
        sql.update(w, incident_id, fields={"postmortem": json.dumps(doc)})
        control.add_incident_event(w, incident_id=incident_id, at=utcnow(), actor=actor.name, kind="postmortem",
                                   body="postmortem saved")


def postmortem(inc: dict) -> dict:
    try:
        doc = json.loads(inc.get("postmortem") or "{}")
    except ValueError:
        doc = {}
    return {**{k: "" for k in POSTMORTEM_FIELDS}, "action_items": [], **doc}


def impact(store: Store, inc: dict, *, now: datetime) -> list[tuple[str, str, str]]:
    """(KPI, during, before) of the incident's first flow: its window against the same length before it."""
    from app.domain import kpis
    from app.store import queries
    start = inc["started_at"] or inc["detected_at"] or inc["created_at"]
    end = inc["resolved_at"] or now
    if end <= start:
        return []
    seg = queries.Segment(flow=inc["flows"][0])
    during = kpis.window_values(store, seg, start=start, end=end)
    before = kpis.window_values(store, seg, start=start - (end - start), end=start)
    return [(f"{inc['flows'][0]} {k.label.lower()}", kpis.fmt(k, during[k.key]), kpis.fmt(k, before[k.key]))
            for k in kpis.KPIS]


def _dur(d: timedelta | None) -> str:
    if d is None:
        return "—"
    m = d.total_seconds() / 60
    return f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} h"


def postmortem_markdown(inc: dict, tl: pd.DataFrame, impact: list[tuple[str, str, str]]) -> str:
    """The postmortem as Markdown. `impact` rows: (KPI, during, before)."""
    pm = postmortem(inc)
    rt = recovery_times(inc)
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    lines = [f"# Postmortem: incident #{inc['id']}: {inc['title']}", "",
             f"- Severity: {inc['severity']}", f"- Flows: {', '.join(inc['flows'])}",
             f"- Features: {', '.join(inc['features']) or '—'}",
             f"- Commander: {inc['commander'] or '—'}; comms lead: {inc['comms_lead'] or '—'}",
             f"- Started {inc['started_at'] or '—'}; detected {inc['detected_at'] or '—'}; "
             f"resolved {inc['resolved_at'] or '—'} (UTC)", "",
             "## Summary", "", pm["summary"] or "_to be written_", "",
             "## Impact", "", "| KPI | during | before |", "|---|---|---|",
             *[f"| {esc(k)} | {esc(a)} | {esc(b)} |" for k, a, b in impact], "",
             "## Recovery times", "",
             f"- Time to detect: {_dur(rt.time_to_detect)}", f"- Time to acknowledge: {_dur(rt.time_to_acknowledge)}",
             f"- Time to mitigate: {_dur(rt.time_to_mitigate)}", f"- Time to resolve: {_dur(rt.time_to_resolve)}",
             f"- Time to toggle (detection to first mitigating flag change): {_dur(rt.time_to_toggle)}", "",
             "## Root cause", "", "### Technical", "", pm["root_cause_technical"] or "_to be written_", "",
             "### User experience", "", pm["root_cause_ux"] or "_to be written_", "",
             "## Contributing factors", "", pm["contributing_factors"] or "_none recorded_", "",
             "## What went well", "", pm["what_went_well"] or "_none recorded_", "",
             "## Action items", "", "| action | owner | due |", "|---|---|---|",
             *[f"| {esc(i['action'])} | {esc(i['owner'])} | {esc(i['due'])} |" for i in pm["action_items"]], "",
             "## Timeline (UTC, oldest first)", ""]
    for _, r in tl.iloc[::-1].iterrows():
        lines.append(f"- {pd.Timestamp(r['ts']):%Y-%m-%d %H:%M:%S} · {r['actor']} · {r['kind']}: {r['entry']}")
    return "\n".join(lines) + "\n"
