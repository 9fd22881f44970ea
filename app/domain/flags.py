"""ML features and their flags: throttle, kill switch, rollback, gradual ramps, the
audit trail, and the OpenFeature flagd flag file that services follow.

Every change needs an operator, a reason and the version of the feature the
operator was looking at (a second operator changing the same feature at once gets
a ConflictError naming the change that won). Each change is one transaction:
the feature row, its audit entry and, when linked, the incident's timeline; the
flag file is then rewritten under the same writer lock, atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from app import settings
from app.fsutil import atomic_write
from app.domain.auth import SYSTEM, Actor, require
from app.store import control
from app.store.db import Store, utcnow

FALLBACKS = {
    "manual_review": "send to manual review",
    "rules": "use the rules engine",
    "allow_then_review": "allow now, review later",
    "block_with_message": "block with a message",
}
STATES = ("on", "throttled", "off")
MAX_REASON = 500
CONFIRM_POINTS = 50


class FlagError(ValueError):
    """A change that cannot be made as asked (the message says why)."""


class ConfirmationRequired(FlagError):
    """Switching off or moving more than 50 points needs confirm=True."""


class ConflictError(FlagError):
    """The feature changed since the caller read it."""

    def __init__(self, message: str, winner: dict | None) -> None:
        super().__init__(message)
        self.winner = winner


@dataclass(frozen=True)
class Change:
    id: int
    feature: str
    action: str
    old: dict
    new: dict
    version: int  # the feature's version after the change


def _state_doc(f: dict) -> dict:
    return {"state": f["state"], "percent": int(f["percent"]), "active_version": f["active_version"]}


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise FlagError("a reason is required")
    if len(text) > MAX_REASON:
        raise FlagError(f"the reason is {len(text)} characters; at most {MAX_REASON}")
    return text


def flags_path() -> Path:
    return settings.get("flags_file")


# ------------------------------------------------------------------- registry
def register(store: Store, *, actor: Actor, feature: str, flow: str, model: str, version: str, fallback: str,
             description: str = "", activated_at: datetime | None = None) -> None:
    """Add an ML feature with its model and active version (admin)."""
    require(actor, "admin", "register features")
    if fallback not in FALLBACKS:
        raise FlagError(f"unknown fallback {fallback!r}; expected one of: {', '.join(FALLBACKS)}")
    if not feature or len(feature) > 64:
        raise FlagError("a feature name is 1 to 64 characters")
    now = utcnow()
    with store.exclusive():
        with store.write() as w:
            if control.get_feature(w, feature):
                raise FlagError(f"feature {feature!r} is already registered")
            control.insert_feature(w, feature=feature, flow=flow, model=model, description=description,
                                   version=version, fallback=fallback, at=now)
            control.add_model_version(w, feature=feature, model=model, version=version,
                                      activated_at=activated_at or now, retired_at=None)
        write_flag_file(store)


def add_version_history(store: Store, *, actor: Actor, feature: str, version: str, activated_at: datetime,
                        retired_at: datetime, note: str = "") -> None:
    """Record an earlier model version (so a rollback has somewhere to go)."""
    require(actor, "admin", "edit model versions")
    with store.write() as w:
        f = control.get_feature(w, feature)
        if f is None:
            raise FlagError(f"unknown feature {feature!r}")
        control.add_model_version(w, feature=feature, model=f["model"], version=version, activated_at=activated_at,
                                  retired_at=retired_at, note=note)


def seed_simulator_features(store: Store, *, now: datetime | None = None) -> int:
    """Register the simulator's four ML features with one earlier version each (idempotent)."""
    from app.sim import model as sim

    now = now or utcnow()
    added = 0
    earlier = {"deposit_fraud_check": "2026.10.1", "withdrawal_risk_score": "3.3.2",
               "loan_credit_model": "1.7.4", "personalised_ranking": "r11"}
    for fm in sim.FLOWS:
        if not fm.feature or control.get_feature(store.cursor(), fm.feature):
            continue
        register(store, actor=SYSTEM, feature=fm.feature, flow=fm.flow, model=fm.model, version=fm.version,
                 fallback=fm.fallback, description=f"{fm.model} in the {fm.flow} flow",
                 activated_at=now - timedelta(days=45))
        add_version_history(store, actor=SYSTEM, feature=fm.feature, version=earlier[fm.feature],
                            activated_at=now - timedelta(days=120), retired_at=now - timedelta(days=45))
        added += 1
    return added


def features(store: Store) -> pd.DataFrame:
    return pd.DataFrame(control.all_features(store.cursor()), columns=list(control.FEATURE_COLS))


def get(store: Store, feature: str) -> dict:
    f = control.get_feature(store.cursor(), feature)
    if f is None:
        raise FlagError(f"unknown feature {feature!r}")
    return f


def versions(store: Store, feature: str) -> pd.DataFrame:
    return pd.DataFrame(control.model_versions(store.cursor(), feature),
                        columns=["feature", "model", "version", "activated_at", "retired_at", "note"])


# ------------------------------------------------------------------- changes
def needs_confirmation(old: dict, *, state: str, percent: int) -> bool:
    return state == "off" or abs(int(percent) - int(old["percent"])) > CONFIRM_POINTS


def _normalise(state: str, percent: int | None) -> tuple[str, int]:
    if state not in STATES:
        raise FlagError(f"unknown state {state!r}; expected one of: {', '.join(STATES)}")
    if state == "on":
        return "on", 100
    if state == "off":
        return "off", 0
    if percent is None or not 1 <= int(percent) <= 99:
        raise FlagError("a throttle sends 1 to 99 percent of traffic through the model "
                        "(use 'on' for 100 and 'off' for 0)")
    return "throttled", int(percent)


def _action(old: dict, state: str, percent: int) -> str:
    if state == "off":
        return "kill"
    if percent < int(old["percent"]):
        return "throttle"
    return "restore"


def _conflict(w, feature: str, expected: int, current: int) -> ConflictError:
    winner = control.last_flag_change(w, feature)
    if winner:
        new = json.loads(winner["new_state"])
        text = (f"{feature} changed after you loaded it (your version {expected}, now {current}): "
                f"{winner['actor']} set it to {new['state']} {new['percent']}% at {winner['changed_at']:%H:%M:%S} "
                f"UTC ({winner['reason']}). Reload and decide again.")
    else:
        text = f"{feature} changed after you loaded it (your version {expected}, now {current}). Reload."
    return ConflictError(text, winner)


def _apply(store: Store, *, actor: Actor, feature: str, expected_version: int, incident_id: int | None,
           reason: str, compute, at: datetime | None = None) -> Change:
    """Shared write path: check version, let `compute(old)` give the new state, record it all."""
    require(actor, "operator", "change ML features")
    reason = _clean_reason(reason)
    now = at or utcnow()
    with store.exclusive():
        with store.write() as w:
            old = control.get_feature(w, feature)
            if old is None:
                raise FlagError(f"unknown feature {feature!r}")
            if int(old["version"]) != int(expected_version):
                raise _conflict(w, feature, expected_version, old["version"])
            if incident_id is not None and not control.incident_exists(w, incident_id):
                raise FlagError(f"no incident #{incident_id}")
            new, action, mitigating = compute(w, old)
            control.update_feature(w, feature, state=new["state"], percent=new["percent"],
                                   active_version=new["active_version"], at=now)
            old_doc = _state_doc(old)
            cid = control.append_flag_change(w, at=now, actor=actor.name, feature=feature, action=action,
                                             old_state=json.dumps(old_doc), new_state=json.dumps(new),
                                             reason=reason, incident_id=incident_id)
            if incident_id is not None:
                control.add_incident_event(
                    w, incident_id=incident_id, at=now, actor=actor.name, kind="flag_change",
                    body=f"{feature} {action}: {describe(old_doc)} -> {describe(new)} ({reason})")
                if mitigating:
                    control.mark_first_mitigation(w, incident_id=incident_id, at=now)
        write_flag_file(store)
    return Change(cid, feature, action, old_doc, new, int(old["version"]) + 1)


def describe(state: dict) -> str:
    if state["state"] == "throttled":
        return f"throttled {state['percent']}%"
    return state["state"]


def set_state(store: Store, *, actor: Actor, feature: str, state: str, reason: str, expected_version: int,
              percent: int | None = None, incident_id: int | None = None, confirm: bool = False,
              action: str | None = None, at: datetime | None = None) -> Change:
    """Turn a feature on, throttle it to `percent`, or switch it off (kill switch)."""
    state, percent = _normalise(state, percent)

    def compute(w, old):
        if old["state"] == state and int(old["percent"]) == percent:
            raise FlagError(f"{feature} is already {describe(_state_doc(old))}")
        if needs_confirmation(old, state=state, percent=percent) and not confirm:
            moved = abs(percent - int(old["percent"]))
            what = f"switching {feature} off" if state == "off" else f"moving {feature} by {moved} points"
            raise ConfirmationRequired(f"{what} needs confirmation")
        act = action or _action(old, state, percent)
        return ({"state": state, "percent": percent, "active_version": old["active_version"]}, act,
                percent < int(old["percent"]))

    return _apply(store, actor=actor, feature=feature, expected_version=expected_version, incident_id=incident_id,
                  reason=reason, compute=compute, at=at)


def previous_version(store: Store, feature: str) -> str | None:
    f = get(store, feature)
    history = [v for v in control.model_versions(store.cursor(), feature) if v["version"] != f["active_version"]]
    return history[0]["version"] if history else None


def rollback(store: Store, *, actor: Actor, feature: str, reason: str, expected_version: int,
             incident_id: int | None = None, at: datetime | None = None) -> Change:
    """Make the version that was active before the current one active again."""
    def compute(w, old):
        history = [v for v in control.model_versions(w, feature) if v["version"] != old["active_version"]]
        if not history:
            raise FlagError(f"{feature} has no earlier model version to roll back to")
        target = history[0]["version"]
        control.activate_version(w, feature=feature, version=target, previous=old["active_version"],
                                 at=at or utcnow())
        return ({"state": old["state"], "percent": int(old["percent"]), "active_version": target}, "rollback", True)

    return _apply(store, actor=actor, feature=feature, expected_version=expected_version, incident_id=incident_id,
                  reason=reason, compute=compute, at=at)


def audit(store: Store, **filters) -> pd.DataFrame:
    return control.audit_log(store, **filters)


# ------------------------------------------------------------------- ramps
def start_ramp(store: Store, *, actor: Actor, feature: str, reason: str, step: int = 10, every_minutes: int = 10,
               target: int = 100, incident_id: int | None = None, at: datetime | None = None) -> int:
    """'Back to `target`% in steps of `step` every `every_minutes` minutes', run by the worker."""
    require(actor, "operator", "start ramps")
    reason = _clean_reason(reason)
    if not 1 <= step <= 100 or not 1 <= every_minutes <= 1440 or not 1 <= target <= 100:
        raise FlagError("a ramp has a step of 1-100 points, every 1-1440 minutes, to a target of 1-100%")
    now = at or utcnow()
    with store.write() as w:
        f = control.get_feature(w, feature)
        if f is None:
            raise FlagError(f"unknown feature {feature!r}")
        if int(f["percent"]) >= target:
            raise FlagError(f"{feature} is already at {f['percent']}%, at or above the target {target}%")
        if control.ramps(w, feature=feature, live_only=True):
            raise FlagError(f"{feature} already has a ramp running; cancel it first")
        return control.insert_ramp(w, feature=feature, target=target, step=step, every=every_minutes, next_at=now,
                                   actor=actor.name, at=now, reason=reason, incident_id=incident_id)


def cancel_ramp(store: Store, *, actor: Actor, ramp_id: int, reason: str) -> None:
    require(actor, "operator", "cancel ramps")
    reason = _clean_reason(reason)
    with store.write() as w:
        r = control.get_ramp(w, ramp_id)
        if r is None or r["status"] not in ("active", "paused"):
            raise FlagError(f"ramp #{ramp_id} is not running")
        control.update_ramp(w, ramp_id, status="cancelled", next_at=r["next_at"], at=utcnow(),
                            note=f"cancelled by {actor.name}: {reason}")


def ramps(store: Store, *, feature: str | None = None) -> pd.DataFrame:
    return pd.DataFrame(control.ramps(store.cursor(), feature=feature), columns=list(control.RAMP_COLS))


def run_ramps(store: Store, *, now: datetime | None = None, alerting_features: set[str] = frozenset()) -> list[str]:
    """One worker tick: advance every due ramp, pausing those whose feature has a firing alert."""
    now = now or utcnow()
    done = []
    for r in control.ramps(store.cursor(), live_only=True):
        if r["next_at"] > now:
            continue
        if r["feature"] in alerting_features:
            if r["status"] != "paused":
                with store.write() as w:
                    control.update_ramp(w, r["id"], status="paused", next_at=r["next_at"], at=now,
                                        note="paused: an alert on this feature is firing")
                done.append(f"ramp #{r['id']} paused")
            continue
        f = get(store, r["feature"])
        pct = min(int(r["target_percent"]), int(f["percent"]) + int(r["step"]))
        state = "on" if pct == 100 else "throttled"
        ramp_actor = Actor(f"ramp #{r['id']} ({r['created_by']})", "operator")
        try:
            set_state(store, actor=ramp_actor, feature=r["feature"], state=state, percent=pct,
                      reason=f"ramp #{r['id']}: {r['reason']}", expected_version=f["version"],
                      incident_id=r["incident_id"], confirm=True, action="ramp", at=now)
        except FlagError as exc:  # someone changed it by hand: the ramp stops and says why
            with store.write() as w:
                control.update_ramp(w, r["id"], status="stopped", next_at=r["next_at"], at=now, note=str(exc))
            done.append(f"ramp #{r['id']} stopped: {exc}")
            continue
        finished = pct >= int(r["target_percent"])
        with store.write() as w:
            control.update_ramp(w, r["id"], status="done" if finished else "active",
                                next_at=r["next_at"] + timedelta(minutes=int(r["every_minutes"])), at=now,
                                note=f"at {pct}%")
        done.append(f"ramp #{r['id']} to {pct}%")
    return done


def alerting_features(firing: pd.DataFrame) -> set[str]:
    """Features named in the filters of firing alerts."""
    out = set()
    for raw in firing.get("filters", []):
        try:
            f = json.loads(raw or "{}").get("feature")
        except ValueError:
            f = None
        if f:
            out.add(f)
    return out


# ------------------------------------------------------------------- the flag file
def flagd_document(feats: list[dict]) -> dict:
    """The OpenFeature flagd flag definitions for the features' current states.

    One flag per feature: variants `model` (route through the model) and the
    feature's fallback; on = default `model`; throttled N% = `fractional`
    targeting on the targeting key (N% model, the rest fallback); off = default
    fallback (the kill switch), with no targeting.
    """
    flags = {}
    for f in feats:
        fb = f["fallback"]
        flag = {"state": "ENABLED", "variants": {"model": "model", fb: fb},
                "defaultVariant": "model" if f["state"] != "off" else fb,
                "metadata": {"model": f["model"], "modelVersion": f["active_version"], "flow": f["flow"],
                             "warroomVersion": int(f["version"])}}
        if f["state"] == "throttled":
            flag["targeting"] = {"fractional": [["model", int(f["percent"])], [fb, 100 - int(f["percent"])]]}
        flags[f["feature"]] = flag
    return {"flags": flags}


def write_flag_file(store: Store, path: Path | None = None) -> Path:
    """Rewrite the flag file atomically: temp file in the same folder, fsync, rename."""
    doc = flagd_document(control.all_features(store.cursor()))
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return atomic_write(Path(path or flags_path()), lambda tmp: tmp.write_text(text))
