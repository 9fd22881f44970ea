"""Budget planner: allocate a yearly budget over five spending lines and compare scenarios by the
expected yearly incident loss, with every assumption linking spend to recovery visible and editable."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from app import report, runtime
from app.domain import budget
from app.domain import quarter as q
from app.domain import roi
from app.domain.auth import PermissionDenied
from app.store.db import utcnow
from app.store.queries import newest_event
from app.ui import auth, components, roi_charts

store = runtime.store()
actor = auth.actor()
now = newest_event(store) or utcnow()
st.title("Budget planner")
st.caption(budget.__doc__.split("\n\n")[1].replace("\n", " "))
components.show_flash()

measured = components.cached(q.measured_baseline, key=(*roi.version_key(store), "baseline", now), store=store, now=now)
saved = {s.name: s for s in budget.scenarios(store)}
NEW = "(new scenario)"


def load(name: str) -> None:
    """Fill the editor's widgets from a saved scenario or a preset."""
    total = float(st.session_state.get("budget_total", 250_000.0))
    s = saved.get(name) or (budget.preset(name, total) if name in budget.PRESETS else None)
    if s is None:
        return
    st.session_state["budget_total"] = float(s.total_usd)
    for line in budget.LINES:
        st.session_state[f"budget_amount_{line}"] = float(s.allocation.get(line, 0.0))
    st.session_state["budget_levers"] = pd.DataFrame([vars(lv) for lv in s.levers])
    st.session_state.pop("budget_levers_editor", None)  # edits belonged to the table that was loaded before
    st.session_state["budget_loaded"] = (s.name if name in saved else NEW, s.version if name in saved else 0)
    b = s.baseline or measured
    for field in budget.BASELINE_FIELDS:
        st.session_state[f"budget_b_{field}"] = float(getattr(b, field))
    st.session_state["budget_name"] = s.name if name in saved else ""
    st.session_state["budget_note"] = s.note
    st.session_state["budget_pick"] = name


if "budget_loaded" not in st.session_state:
    load(next(iter(saved), "Balanced"))

st.selectbox("Start from", [NEW, *saved, *[p for p in budget.PRESETS if p not in saved]], key="budget_pick",
             on_change=lambda: load(st.session_state["budget_pick"]),
             help="a saved scenario, or a preset split of the total below")

st.subheader("Assumptions")
st.caption(f"Drivers {measured.source}; edit any of them.")
cols = st.columns(4)
labels = {"incidents_per_year": ("Incidents per year", 1.0), "loss_per_hour_usd": ("Loss per hour before mitigation ($)", 100.0),
          "hours_to_detect": ("Hours to detect", 0.1), "hours_detect_to_mitigate": ("Hours from detection to mitigation", 0.25),
          "hours_mitigate_to_resolve": ("Hours from mitigation to resolution", 0.5),
          "residual_loss_share": ("Share of the loss rate left after mitigation", 0.05),
          "support_cost_per_incident_usd": ("Support cost per incident ($)", 100.0)}
values = {}
for i, (field, (label, step)) in enumerate(labels.items()):
    values[field] = cols[i % 4].number_input(label, min_value=0.0, step=step, key=f"budget_b_{field}",
                                             max_value=1.0 if field == "residual_loss_share" else None)
baseline = budget.edited_baseline(measured, values)

st.markdown("**How spending on each line cuts a driver** (cut = max reduction x spend / (spend + spend for half "
            "the effect))")
levers_df = st.data_editor(
    st.session_state["budget_levers"], key="budget_levers_editor", hide_index=True, disabled=["line", "driver"],
    column_config={"line": st.column_config.TextColumn("line"),
                   "driver": st.column_config.TextColumn("driver it cuts"),
                   "max_reduction": st.column_config.NumberColumn("max reduction (0-1)", min_value=0.0, max_value=1.0,
                                                                  step=0.05),
                   "half_effect_usd": st.column_config.NumberColumn("spend for half the effect ($/year)",
                                                                    min_value=1.0, step=5000.0, format="$%.0f")})

st.subheader("Allocation")
total = st.number_input("Total yearly budget ($)", min_value=0.0, step=10_000.0, key="budget_total")
as_shares = st.toggle("Enter shares (%) instead of amounts", key="budget_shares")
alloc, cols = {}, st.columns(5)
for i, (line, label) in enumerate(budget.LINES.items()):
    if as_shares:
        pct = cols[i].number_input(f"{label} (%)", min_value=0.0, max_value=100.0, step=5.0, key=f"budget_share_{line}",
                                   value=100.0 * float(st.session_state.get(f"budget_amount_{line}", 0.0)) / total
                                   if total else 20.0)
        alloc[line] = total * pct / 100.0
        st.session_state[f"budget_amount_{line}"] = alloc[line]  # kept for when amounts are shown again
    else:
        alloc[line] = cols[i].number_input(f"{label} ($)", min_value=0.0, step=5_000.0, key=f"budget_amount_{line}")

try:
    levers = budget.levers_from_rows(levers_df.to_dict("records"))
    budget.check_baseline(baseline)
    budget.check_allocation(total, alloc)
except (budget.BudgetError, ValueError, TypeError) as exc:
    st.warning(str(exc))
    st.stop()

current = budget.Scenario(name="this allocation", total_usd=total, allocation=alloc, levers=levers, baseline=baseline)
out = budget.outcome(baseline, levers, alloc)
m = st.columns(4)
m[0].metric("Expected yearly incident loss", roi.money(out["expected_yearly_loss_usd"]),
            f"{roi.money(-out['loss_avoided_usd'])} against no spend", delta_color="inverse")
m[1].metric("Net benefit", roi.money(out["net_benefit_usd"]), help="loss avoided - spend")
m[2].metric("Return per dollar", "n/a" if total == 0 else f"{out['return_per_dollar']:.2f}")
m[3].metric("Incidents per year", f"{out['incidents_per_year']:.1f}",
            help=f"detect in {out['hours_to_detect']:.2f} h, mitigate {out['hours_detect_to_mitigate']:.2f} h later")

st.subheader("Compare scenarios")
options = ["this allocation", *saved, *[p for p in budget.PRESETS if p not in saved]]
picked = st.multiselect("Scenarios", options, default=options[: min(3, len(options))], key="budget_compare")
items = []
for name in picked:
    if name == "this allocation":
        items.append(current)
    elif name in saved:
        items.append(saved[name])
    else:
        items.append(replace(budget.preset(name, total), levers=levers, baseline=baseline))
if items:
    table = budget.compare(baseline, items)
    c1, c2 = st.columns(2)
    c1.plotly_chart(roi_charts.allocation(table, budget.LINES), key="budget_alloc_chart")
    c2.plotly_chart(roi_charts.scenario_outcomes(table), key="budget_outcome_chart")
    st.dataframe(report.scenario_table(table), hide_index=True, key="budget_table")
    st.caption("Presets use this page's total and assumptions; saved scenarios keep their own.")

st.subheader("Save")
with st.form("budget_save"):
    name = st.text_input("Scenario name", max_chars=100, key="budget_name")
    note = st.text_area("Note", max_chars=1000, key="budget_note")
    c1, c2 = st.columns(2)
    do_save, do_delete = c1.form_submit_button("Save scenario"), c2.form_submit_button("Delete scenario")
if do_save or do_delete:
    loaded_name, loaded_version = st.session_state.get("budget_loaded", (NEW, 0))
    expected = loaded_version if name.strip() == loaded_name else 0
    try:
        if do_save:
            s = budget.save_scenario(store, actor=actor, scenario=replace(current, name=name, note=note),
                                     expected_version=expected)
            st.session_state["budget_loaded"] = (s.name, s.version)
            components.flash(f"scenario {s.name!r} saved")
        else:
            budget.delete_scenario(store, actor=actor, name=name.strip())
            st.session_state["budget_loaded"] = (NEW, 0)
            components.flash(f"scenario {name.strip()!r} deleted")
    except (budget.BudgetError, PermissionDenied) as exc:
        st.warning(str(exc))
