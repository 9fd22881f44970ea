"""Log simulated incidents into a store the way a war room would have: opened on
detection, acknowledged, mitigated by throttling the feature (a flag change linked
to the incident), resolved. The ROI benchmark, the tests and the demo use it."""

from __future__ import annotations

from datetime import datetime, timedelta

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
