"""Log simulated incidents into a store the way a war room would have: opened on
detection, acknowledged, mitigated by throttling the feature (a flag change linked
to the incident), resolved. The ROI benchmark, the tests and the demo use it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.domain import flags, incidents
from app.domain.auth import Actor
from app.store.db import Store

RESPONDER = Actor("sim-responder", "admin")


def log_incident(store: Store, *, title: str, flows: list[str], features: list[str], start: datetime,
                 end: datetime | None, detect_after: timedelta, ack_after: timedelta,
                 mitigate_at: datetime | None = None, severity: str = "SEV2", throttle_to: int = 20) -> int:
    """One incident with its timeline; `end` None leaves it open. Times are naive UTC."""
    detected = start + detect_after
    iid = incidents.create(store, actor=RESPONDER, title=title, severity=severity, flows=flows,
                           features=[f for f in features if f], started_at=start, detected_at=detected, at=detected)
    incidents.transition(store, actor=RESPONDER, incident_id=iid, to="acknowledged", at=detected + ack_after)
    known = {f["feature"]: f for f in flags.features(store).to_dict("records")}
    feature = next((f for f in features if f in known), None)
    if mitigate_at is not None:
        if feature is not None:
            f = known[feature]
            change = flags.set_state(store, actor=RESPONDER, feature=feature, state="throttled", percent=throttle_to,
                                     reason=f"incident #{iid}: traffic to {f['fallback']}", incident_id=iid,
                                     expected_version=int(f["version"]), confirm=True, at=mitigate_at)
            if end is not None:
                flags.set_state(store, actor=RESPONDER, feature=feature, state="on",
                                reason=f"incident #{iid} resolved", incident_id=iid,
                                expected_version=change.version, confirm=True, at=end)
        incidents.transition(store, actor=RESPONDER, incident_id=iid, to="mitigated", at=mitigate_at)
    if end is not None:
        incidents.transition(store, actor=RESPONDER, incident_id=iid, to="resolved", at=end)
    return iid


def log_truth_incidents(store: Store, truth: dict) -> list[int]:
    """Log a simulated run's incidents (its truth.json) as the war room would have: detected 20-40 minutes
    in, acknowledged 10 minutes later; resolved ones throttled when the simulation's throttle took effect
    (else halfway through) and resolved at their end;
    the ongoing one left open and unmitigated for the operator to handle. Skips a store that has incidents."""
    from app.domain import incidents as incidents_domain
    if not incidents_domain.list_all(store).empty:
        return []

    def at(iso: str) -> datetime:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).replace(tzinfo=None)

    ids = []
    for k, inc in enumerate(sorted(truth["incidents"], key=lambda i: i["start"])):
        start, end = at(inc["start"]), at(inc["end"])
        title = inc["title"].removeprefix("Injected: ")
        mitigated = inc["effects"].get("mitigated_at_s")
        mitigate_at = (None if inc["ongoing"] else
                       datetime.fromtimestamp(mitigated, tz=timezone.utc).replace(tzinfo=None) if mitigated
                       else start + (end - start) / 2)
        ids.append(log_incident(
            store, title=title, flows=inc["flows"], features=inc["features"], start=start,
            end=None if inc["ongoing"] else end, detect_after=timedelta(minutes=20 + 10 * (k % 3)),
            ack_after=timedelta(minutes=10), mitigate_at=mitigate_at, severity="SEV1" if inc["ongoing"] else "SEV2"))
    return ids
