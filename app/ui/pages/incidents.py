"""Incidents: open one, walk its lifecycle, keep its timeline, write the postmortem,
and draft the messages users and stakeholders read."""

from datetime import datetime

import pandas as pd
import streamlit as st

from app import runtime, settings
from app.domain import flags, incidents as inc, messages
from app.domain.auth import PermissionDenied
from app.store.db import utcnow
from app.ui import auth, components

store = runtime.store()
actor = auth.actor()
tz = components.viewer_tz()
now = utcnow()
st.title("Incidents")

with st.expander("Severity levels"):
    for sev, text in inc.SEVERITIES.items():
        st.markdown(f"**{sev}**: {text}")

if actor.can("operator"):
    with st.expander("Open an incident", expanded=False):
        feats = list(flags.features(store)["feature"])
        with st.form("new_incident"):
            title = st.text_input("Title", max_chars=inc.LIMITS["title"], key="new_title")
            c1, c2 = st.columns(2)
            severity = c1.selectbox("Severity", list(inc.SEVERITIES), index=1, key="new_severity")
            flows = c2.multiselect("Affected flows", list(settings.get("flows")), key="new_flows")
            features = st.multiselect("Affected ML features", feats, key="new_features")
            c3, c4 = st.columns(2)
            commander = c3.text_input("Incident commander", max_chars=inc.LIMITS["commander"], key="new_commander")
            comms = c4.text_input("Comms lead", max_chars=inc.LIMITS["comms_lead"], key="new_comms")
            description = st.text_area("Description", max_chars=inc.LIMITS["description"], key="new_description")
            if st.form_submit_button("Open incident"):
                try:
                    iid = inc.create(store, actor=actor, title=title, severity=severity, flows=flows,
                                     features=features, commander=commander, comms_lead=comms,
                                     description=description)
                    st.query_params["incident"] = str(iid)
                    st.success(f"incident #{iid} opened")
                except (inc.IncidentError, PermissionDenied) as exc:
                    st.warning(str(exc))

all_inc = inc.list_all(store)
if all_inc.empty:
    st.caption("No incidents recorded.")
    st.stop()
st.dataframe(all_inc[["id", "severity", "status", "title", "flows", "detected_at", "resolved_at"]], hide_index=True,
             key="incident_list")
ids = [int(i) for i in all_inc["id"]]
wanted = st.query_params.get("incident")
chosen = st.selectbox("Incident", ids, index=ids.index(int(wanted)) if wanted and wanted.isdigit()
                      and int(wanted) in ids else 0,
                      format_func=lambda i: f"#{i} {all_inc.set_index('id').loc[i, 'title']}", key="incident_pick")
st.query_params["incident"] = str(chosen)
i = inc.get(store, chosen)
tl = inc.timeline(store, chosen)

st.header(f"#{i['id']} {i['severity']} · {i['status']} · {components.md_escape(i['title'])}")
st.text(i["description"] or "")
due = inc.next_update_due(i, tl, now=now)
if due is not None:
    late = due < now
    (st.error if late else st.info)(f"Next stakeholder update due {components.local_time(due, tz)}"
                                    + (" (overdue)" if late else ""))
rt = inc.recovery_times(i)
cols = st.columns(5)
for col, (label, value) in zip(cols, [("Time to detect", rt.time_to_detect), ("to acknowledge", rt.time_to_acknowledge),
                                      ("to mitigate", rt.time_to_mitigate), ("to resolve", rt.time_to_resolve),
                                      ("Time to toggle", rt.time_to_toggle)]):
    col.metric(label, "—" if value is None else f"{value.total_seconds() / 60:.0f} min")

if actor.can("operator"):
    nxt = [s for s in inc.LIFECYCLE if inc.LIFECYCLE.index(s) > inc.LIFECYCLE.index(i["status"])]
    bcols = st.columns(max(1, len(nxt)))
    for col, s in zip(bcols, nxt):
        if col.button(f"Mark {s}", key=f"to_{s}"):
            try:
                inc.transition(store, actor=actor, incident_id=chosen, to=s, expected_version=i["version"])
                st.rerun()
            except inc.IncidentError as exc:
                st.warning(str(exc))
    with st.expander("Edit times (UTC, for backfill)"):
        with st.form("times"):
            edits = {}
            for k in inc.ORDER:
                edits[k] = st.text_input(k.replace("_at", ""), "" if i[k] is None else f"{i[k]:%Y-%m-%d %H:%M:%S}",
                                         key=f"time_{k}")
            if st.form_submit_button("Save times"):
                try:
                    parsed = {k: (datetime.fromisoformat(v.strip()) if v.strip() else None) for k, v in edits.items()}
                    inc.set_times(store, actor=actor, incident_id=chosen, times=parsed, expected_version=i["version"])
                    st.success("times saved")
                except ValueError as exc:
                    st.warning(str(exc))
    with st.form("note"):
        text = st.text_area("Add to the timeline", max_chars=inc.LIMITS["note"], key="note_text")
        update = st.checkbox("This was a stakeholder update", key="note_update")
        if st.form_submit_button("Add"):
            try:
                inc.add_note(store, actor=actor, incident_id=chosen, text=text,
                             kind="stakeholder_update" if update else "note")
                st.rerun()
            except inc.IncidentError as exc:
                st.warning(str(exc))

st.subheader("Timeline")
st.dataframe(tl.assign(ts=[components.local_time(t, tz) for t in tl["ts"]]), hide_index=True, key="timeline")

# -- impact (from data) and postmortem ---------------------------------------------------
impact = inc.impact(store, i, now=now)
st.subheader("Postmortem")
pm = inc.postmortem(i)
if actor.can("operator"):
    with st.form("postmortem"):
        fields = {k: st.text_area(k.replace("_", " ").capitalize(), pm[k], max_chars=5000, key=f"pm_{k}")
                  for k in inc.POSTMORTEM_FIELDS}
        items = st.data_editor(pd.DataFrame(pm["action_items"] or [{"action": "", "owner": "", "due": ""}],
                                            columns=["action", "owner", "due"]),
                               num_rows="dynamic", key="pm_items", hide_index=True)
        if st.form_submit_button("Save postmortem"):
            try:
                inc.save_postmortem(store, actor=actor, incident_id=chosen, fields=fields,
                                    action_items=items.fillna("").to_dict("records"))
                st.success("postmortem saved")
                i = inc.get(store, chosen)
            except inc.IncidentError as exc:
                st.warning(str(exc))
st.download_button("Export postmortem as Markdown", inc.postmortem_markdown(i, inc.timeline(store, chosen), impact),
                   file_name=f"postmortem-incident-{chosen}.md", mime="text/markdown", key="pm_download")

# -- messages ---------------------------------------------------------------------------
st.subheader("Messages")
tpls = messages.templates(store)
name = st.selectbox("Template", list(tpls), format_func=lambda n: tpls[n]["title"], key="msg_template")
body = st.text_area("Template (Jinja2; variables: " + ", ".join(sorted(messages.context(i, next_update=due))) + ")",
                    tpls[name]["body"], height=160, max_chars=messages.MAX_TEMPLATE, key=f"msg_body_{name}")
try:
    st.caption("Preview (copy with the button at the top right of the box)")
    st.code(messages.render(body, messages.context(i, next_update=due)), language=None, wrap_lines=True)
except messages.MessageError as exc:
    st.warning(str(exc))
if actor.can("operator") and st.button("Save template", key="msg_save"):
    try:
        messages.save_template(store, actor=actor, name=name, body=body)
        st.success("template saved")
    except messages.MessageError as exc:
        st.warning(str(exc))
