"""Control panel: throttle or switch off ML features, roll back models, run ramps,
and read the audit log. Every change needs a reason and is recorded."""

import streamlit as st

from app import runtime
from app.domain import flags
from app.domain.auth import PermissionDenied
from app.domain.warroom import feature_state_text
from app.store import queries
from app.ui import auth, components

store = runtime.store()
actor = auth.actor()
tz = components.viewer_tz()
st.title("Control panel")
components.show_flash()

feats = flags.features(store)
if feats.empty:
    st.info("No ML features are registered yet.")
    if actor.can("admin") and st.button("Register the simulator's four features", key="seed"):
        flags.seed_simulator_features(store)
        st.rerun()
    st.stop()

if not actor.can("operator"):
    st.info(f"You are signed in as {actor.name} ({actor.role}): you can read everything here; "
            "operators change flags.")

open_incidents = queries.open_incidents(store)
incident_choices = {"(none)": None} | {f"#{r['id']} {r['severity']} {r['title']}": int(r["id"])
                                       for _, r in open_incidents.iterrows()}

st.dataframe(feats.assign(state=[feature_state_text(r) for _, r in feats.iterrows()])
             [["feature", "flow", "model", "active_version", "fallback", "state", "version", "updated_at"]],
             hide_index=True, key="features_table")

for _, f in feats.iterrows():
    name = f["feature"]
    seen_key = f"seen_version_{name}"
    expected = st.session_state.get(seen_key, int(f["version"]))  # the version this operator last saw
    with st.expander(f"{name} · {feature_state_text(f)} · model {f['model']} {f['active_version']}",
                     expanded=len(feats) == 1):
        if actor.can("operator"):
            with st.form(f"state_{name}"):
                c1, c2 = st.columns(2)
                state = c1.radio("State", flags.STATES, index=flags.STATES.index(f["state"]), horizontal=True,
                                 key=f"state_choice_{name}")
                percent = c2.slider("Share of traffic through the model when throttled (%)", 1, 99,
                                    int(f["percent"]) if f["state"] == "throttled" else 50, key=f"percent_{name}")
                reason = st.text_input("Reason (required)", max_chars=flags.MAX_REASON, key=f"reason_{name}")
                link = st.selectbox("Incident", list(incident_choices), key=f"incident_{name}")
                confirm = st.checkbox("I confirm (needed to switch off or to move more than 50 points)",
                                      key=f"confirm_{name}")
                if st.form_submit_button(f"Apply to {name}"):
                    try:
                        c = flags.set_state(store, actor=actor, feature=name, state=state, percent=percent,
                                            reason=reason, expected_version=expected,
                                            incident_id=incident_choices[link], confirm=confirm)
                        components.flash(f"{name}: {flags.describe(c.old)} -> {flags.describe(c.new)} "
                                         f"(fallback: {flags.FALLBACKS[f['fallback']]}). The flag file is updated.")
                    except flags.ConflictError as exc:
                        st.error(str(exc))
                    except (flags.FlagError, PermissionDenied) as exc:
                        st.warning(str(exc))
        versions = flags.versions(store, name)
        st.caption("Model versions (newest activation first)")
        st.dataframe(versions[["version", "activated_at", "retired_at", "note"]], hide_index=True,
                     key=f"versions_{name}")
        previous = flags.previous_version(store, name)
        if actor.can("operator") and previous:
            with st.form(f"rollback_{name}"):
                why = st.text_input(f"Reason to roll back to {previous}", max_chars=flags.MAX_REASON,
                                    key=f"rb_reason_{name}")
                if st.form_submit_button(f"Roll back {name} to {previous}"):
                    try:
                        flags.rollback(store, actor=actor, feature=name, reason=why, expected_version=expected)
                        components.flash(f"{name} now runs {previous}.")
                    except (flags.FlagError, PermissionDenied) as exc:
                        st.warning(str(exc))
        ramps = flags.ramps(store, feature=name)
        live = ramps[ramps["status"].isin(["active", "paused"])]
        if len(ramps):
            st.caption("Ramps")
            st.dataframe(ramps[["id", "status", "target_percent", "step", "every_minutes", "next_at", "created_by",
                                "note"]], hide_index=True, key=f"ramps_{name}")
        if actor.can("operator"):
            if len(live):
                rid = int(live["id"].iloc[0])
                with st.form(f"cancel_{name}"):
                    why = st.text_input("Reason to cancel", max_chars=flags.MAX_REASON, key=f"cancel_reason_{name}")
                    if st.form_submit_button(f"Cancel ramp #{rid}"):
                        try:
                            flags.cancel_ramp(store, actor=actor, ramp_id=rid, reason=why)
                            components.flash(f"ramp #{rid} cancelled")
                        except flags.FlagError as exc:
                            st.warning(str(exc))
            elif int(f["percent"]) < 100:
                with st.form(f"ramp_{name}"):
                    c1, c2, c3 = st.columns(3)
                    step = c1.number_input("Step (points)", 1, 100, 10, key=f"ramp_step_{name}")
                    every = c2.number_input("Every (minutes)", 1, 1440, 10, key=f"ramp_every_{name}")
                    target = c3.number_input("Target (%)", 1, 100, 100, key=f"ramp_target_{name}")
                    why = st.text_input("Reason", max_chars=flags.MAX_REASON, key=f"ramp_reason_{name}")
                    if st.form_submit_button(f"Start ramp for {name}"):
                        try:
                            rid = flags.start_ramp(store, actor=actor, feature=name, reason=why, step=int(step),
                                                   every_minutes=int(every), target=int(target))
                            components.flash(f"ramp #{rid} started: the worker raises {name} by {step} points every "
                                             f"{every} minutes to {target}%, pausing while an alert on it fires")
                        except flags.FlagError as exc:
                            st.warning(str(exc))
    st.session_state[seen_key] = int(flags.get(store, name)["version"])

st.subheader("Audit log")
c1, c2, c3 = st.columns(3)
ff = c1.selectbox("Feature", ["All"] + list(feats["feature"]), key="audit_feature")
fa = c2.text_input("Actor", key="audit_actor")
fx = c3.selectbox("Action", ["All", "throttle", "kill", "restore", "rollback", "ramp"], key="audit_action")
log = flags.audit(store, feature=None if ff == "All" else ff, actor=fa.strip() or None,
                  action=None if fx == "All" else fx)
st.dataframe(log, hide_index=True, key="audit_table")
