"""Budget planner: how spending on five lines changes the expected yearly incident loss.

Every link from money to recovery is an explicit, editable assumption (a lever):
a line's spend cuts one driver of the loss by `max_reduction x spend / (spend +
half_effect_usd)`: nothing at zero, half the maximum at `half_effect_usd`, never
more than the maximum (diminishing returns). The drivers come from the incidents
the store measured (or are typed in):

    yearly loss = incidents per year x (1 - cut in incident rate)
                  x [ loss per hour x (1 - cut in loss rate)
                      x ( hours to detect x (1 - cut in detection time)
                        + hours from detection to mitigation x (1 - cut in response time)
                        + residual share x hours from mitigation to resolution )
                    + support cost per incident x (1 - cut in support cost) ]
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import pandas as pd

from app.domain.auth import Actor, require
from app.store import budget as sql
from app.store.db import Store, utcnow

LINES: dict[str, str] = {
    "monitoring": "Real-time monitoring and alerting infrastructure",
    "response": "Emergency response",
    "communication": "User communication and feedback tools",
    "retraining": "Model retraining and validation",
    "frontend": "Frontend contingency",
}
DRIVERS: dict[str, str] = {
    "time_to_detect": "hours to detect",
    "response_time": "hours from detection to mitigation",
    "support_cost": "support cost per incident",
    "incident_rate": "incidents per year",
    "loss_rate": "loss per hour while an incident runs",
}


class BudgetError(ValueError):
    """An allocation or assumption that cannot be planned with (the message says which and why)."""


@dataclass(frozen=True)
class Lever:
    line: str
    driver: str
    max_reduction: float  # 0..1
    half_effect_usd: float  # yearly spend that brings half of max_reduction

    def reduction(self, spend: float) -> float:
        if spend <= 0:
            return 0.0
        return self.max_reduction * spend / (spend + self.half_effect_usd)


DEFAULT_LEVERS: tuple[Lever, ...] = (
    Lever("monitoring", "time_to_detect", 0.8, 50_000.0),
    Lever("response", "response_time", 0.6, 80_000.0),
    Lever("communication", "support_cost", 0.5, 30_000.0),
    Lever("retraining", "incident_rate", 0.5, 150_000.0),
    Lever("frontend", "loss_rate", 0.4, 60_000.0),
)

PRESETS: dict[str, dict[str, float]] = {  # shares of the total
    "Balanced": {line: 0.2 for line in LINES},
    "Model R&D heavy": {"monitoring": 0.0, "response": 0.0, "communication": 0.1, "retraining": 0.8, "frontend": 0.1},
}


@dataclass(frozen=True)
class Baseline:
    incidents_per_year: float
    loss_per_hour_usd: float
    hours_to_detect: float
    hours_detect_to_mitigate: float
    hours_mitigate_to_resolve: float
    residual_loss_share: float  # of the loss rate, between mitigation and resolution
    support_cost_per_incident_usd: float
    source: str = "typed in"


BASELINE_FIELDS = tuple(f for f in Baseline.__dataclass_fields__ if f != "source")


def edited_baseline(measured: Baseline, values: dict[str, float]) -> Baseline:
    """The drivers as typed on the planner; it keeps the measured source while nothing differs."""
    edited = any(abs(float(values[f]) - float(getattr(measured, f))) > 1e-9 for f in BASELINE_FIELDS)
    return Baseline(**{f: float(values[f]) for f in BASELINE_FIELDS},
                    source="edited on the planner" if edited else measured.source)


def levers_from_rows(rows: list[dict]) -> tuple[Lever, ...]:
    """Levers from the planner's editable table (line, driver, max_reduction, half_effect_usd), checked."""
    try:
        levers = tuple(Lever(line=r["line"], driver=r["driver"], max_reduction=float(r["max_reduction"]),
                             half_effect_usd=float(r["half_effect_usd"])) for r in rows)
    except (TypeError, ValueError, KeyError) as exc:
        raise BudgetError(f"every lever needs a number in each column ({exc})") from None
    check_levers(levers)
    return levers


DEFAULT_BASELINE = Baseline(12.0, 5_000.0, 1.0, 3.0, 12.0, 0.2, 2_000.0, "defaults (no incidents measured)")


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def measured_baseline(rows: pd.DataFrame, impacts: dict, *, days: float) -> Baseline:
    """Drivers from estimated incidents (a period summary's rows, and its impacts: a list per incident,
    one per flow) over `days` of history."""
    est = rows[rows["note"] == ""] if len(rows) else rows
    if est is None or not len(est) or days <= 0:
        return DEFAULT_BASELINE
    before_loss = before_h = after_loss = after_h = 0.0
    for imps in impacts.values():  # one incident: its flows' loss rates add, its hours count once
        first = imps[0]
        rates = [i.loss_rates_around_mitigation() for i in imps]
        mitigated = rates[0][1] is not None
        hb = ((first.mitigated_at - first.start).total_seconds() / 3600.0) if mitigated else first.hours
        before_loss += sum(b for b, _ in rates) * hb
        before_h += hb
        if mitigated:
            after_loss += sum(a or 0.0 for _, a in rates) * (first.hours - hb)
            after_h += first.hours - hb
    lph = float(before_loss / before_h) if before_h else DEFAULT_BASELINE.loss_per_hour_usd
    residual = min(1.0, max(0.0, (after_loss / after_h) / lph)) if after_h and lph > 0 else 0.0

    def mean_h(col, default):
        s = est[col].dropna()
        return float(s.mean()) / 60.0 if len(s) else default

    ttd = mean_h("time_to_detect_min", DEFAULT_BASELINE.hours_to_detect)
    ttm = mean_h("time_to_mitigate_min", ttd + DEFAULT_BASELINE.hours_detect_to_mitigate)
    ttr = mean_h("time_to_resolve_min", ttm + DEFAULT_BASELINE.hours_mitigate_to_resolve)
    return Baseline(
        incidents_per_year=len(rows) * 365.0 / days, loss_per_hour_usd=lph, hours_to_detect=ttd,
        hours_detect_to_mitigate=max(0.0, ttm - ttd), hours_mitigate_to_resolve=max(0.0, ttr - ttm),
        residual_loss_share=residual, support_cost_per_incident_usd=float(est["ticket_cost"].clip(lower=0).mean()),
        source=f"measured from {len(est)} incident(s) over {days:.0f} days")


def check_baseline(b: Baseline) -> None:
    for name, value in asdict(b).items():
        if name == "source":
            continue
        if not _finite(value) or value < 0:
            raise BudgetError(f"assumption {name.replace('_', ' ')}: must be a number >= 0, not {value}")
    if b.residual_loss_share > 1:
        raise BudgetError("assumption residual loss share: must be within 0..1")


def check_levers(levers: tuple[Lever, ...] | list[Lever]) -> None:
    seen = set()
    for lv in levers:
        if lv.line not in LINES:
            raise BudgetError(f"lever for unknown line {lv.line!r}; lines: {', '.join(LINES)}")
        if lv.driver not in DRIVERS:
            raise BudgetError(f"lever {lv.line}: unknown driver {lv.driver!r}; drivers: {', '.join(DRIVERS)}")
        if not (_finite(lv.max_reduction) and 0.0 <= lv.max_reduction <= 1.0):
            raise BudgetError(f"lever {lv.line}: the maximum reduction must be within 0..100%")
        if not (_finite(lv.half_effect_usd) and lv.half_effect_usd > 0):
            raise BudgetError(f"lever {lv.line}: the spend for half the effect must be above $0")
        if lv.line in seen:
            raise BudgetError(f"two levers for line {lv.line}")
        seen.add(lv.line)


def allocation_from_shares(total: float, shares: dict[str, float]) -> dict[str, float]:
    """Shares (0..1, summing to 1) of `total` -> amounts per line."""
    s = sum(shares.values())
    if any(v < 0 for v in shares.values()) or abs(s - 1.0) > 1e-6:
        raise BudgetError(f"shares must be >= 0 and sum to 100%, not {s:.1%}")
    return {line: total * shares.get(line, 0.0) for line in LINES}


def check_allocation(total: float, allocation: dict[str, float]) -> None:
    if not _finite(total) or total < 0:
        raise BudgetError(f"the total budget must be a number >= 0, not {total}")
    unknown = set(allocation) - set(LINES)
    if unknown:
        raise BudgetError(f"unknown spending lines: {', '.join(sorted(unknown))}")
    for line, v in allocation.items():
        if not _finite(v) or v < 0:
            raise BudgetError(f"{LINES[line]}: the amount must be a number >= 0, not {v}")
    s = sum(allocation.values())
    if abs(s - total) > max(1.0, 1e-9 * total):
        raise BudgetError(f"the lines sum to ${s:,.0f}, not the total of ${total:,.0f}")


def outcome(baseline: Baseline, levers, allocation: dict[str, float]) -> dict:
    """Expected yearly loss with this allocation, its parts, and the net benefit against spending nothing."""
    cut = {d: 0.0 for d in DRIVERS}
    for lv in levers:
        # Two lines on one driver compound: each cuts what the other left.
        cut[lv.driver] = 1.0 - (1.0 - cut[lv.driver]) * (1.0 - lv.reduction(allocation.get(lv.line, 0.0)))
    b = baseline
    rate = b.incidents_per_year * (1 - cut["incident_rate"])
    lph = b.loss_per_hour_usd * (1 - cut["loss_rate"])
    ttd = b.hours_to_detect * (1 - cut["time_to_detect"])
    ttm = b.hours_detect_to_mitigate * (1 - cut["response_time"])
    revenue = lph * (ttd + ttm + b.residual_loss_share * b.hours_mitigate_to_resolve)
    support = b.support_cost_per_incident_usd * (1 - cut["support_cost"])
    spend = float(sum(allocation.values()))
    loss = rate * (revenue + support)
    untouched = b.incidents_per_year * (b.loss_per_hour_usd * (b.hours_to_detect + b.hours_detect_to_mitigate
                                        + b.residual_loss_share * b.hours_mitigate_to_resolve)
                                        + b.support_cost_per_incident_usd)
    return {"spend_usd": spend, "incidents_per_year": rate, "loss_per_hour_usd": lph, "hours_to_detect": ttd,
            "hours_detect_to_mitigate": ttm, "revenue_loss_per_incident_usd": revenue,
            "support_cost_per_incident_usd": support, "expected_yearly_loss_usd": loss,
            "yearly_loss_without_spend_usd": untouched, "loss_avoided_usd": untouched - loss,
            "net_benefit_usd": untouched - loss - spend,
            "return_per_dollar": (untouched - loss) / spend if spend else math.nan,
            **{f"cut_{d}": c for d, c in cut.items()}}


# --------------------------------------------------------------------------- saved scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    total_usd: float
    allocation: dict[str, float]
    levers: tuple[Lever, ...] = DEFAULT_LEVERS
    baseline: Baseline | None = None  # None: use the measured one
    note: str = ""
    version: int = 0


def preset(name: str, total: float) -> Scenario:
    return Scenario(name=name, total_usd=total, allocation=allocation_from_shares(total, PRESETS[name]))


def _to_row(s: Scenario) -> tuple[str, str]:
    return (json.dumps({line: float(s.allocation.get(line, 0.0)) for line in LINES}),
            json.dumps({"levers": [asdict(lv) for lv in s.levers],
                        "baseline": asdict(s.baseline) if s.baseline else None}))


def _from_row(r: dict) -> Scenario:
    a = json.loads(r["assumptions"])
    return Scenario(name=r["name"], total_usd=float(r["total_usd"]), allocation=json.loads(r["allocation"]),
                    levers=tuple(Lever(**lv) for lv in a.get("levers") or [asdict(x) for x in DEFAULT_LEVERS]),
                    baseline=Baseline(**a["baseline"]) if a.get("baseline") else None, note=r["note"],
                    version=int(r["version"]))


def scenarios(store: Store) -> list[Scenario]:
    return [_from_row(r) for r in sql.all_scenarios(store.cursor())]


def get_scenario(store: Store, name: str) -> Scenario | None:
    r = sql.get(store.cursor(), name)
    return _from_row(r) if r else None


def save_scenario(store: Store, *, actor: Actor, scenario: Scenario, expected_version: int | None = None,
                  at: datetime | None = None) -> Scenario:
    """Create or replace a named scenario. `expected_version` (the version the editor loaded; 0 for a new
    name) turns a concurrent edit into a clear conflict instead of a silent overwrite."""
    require(actor, "operator", "save budget scenarios")
    name = scenario.name.strip()
    if not name or len(name) > 100:
        raise BudgetError("a scenario needs a name of 1 to 100 characters")
    check_allocation(scenario.total_usd, scenario.allocation)
    check_levers(scenario.levers)
    if scenario.baseline is not None:
        check_baseline(scenario.baseline)
    scenario = replace(scenario, name=name)
    allocation, assumptions = _to_row(scenario)
    now = at or utcnow()
    with store.write() as w:
        old = sql.get(w, name)
        current = int(old["version"]) if old else 0
        if expected_version is not None and expected_version != current:
            if old is not None and expected_version == 0:
                raise BudgetError(f"a scenario named {name!r} already exists; load it to change it, "
                                  "or pick another name")
            raise BudgetError(f"scenario {name!r} was changed by {old['updated_by'] if old else 'someone'} "
                              "after you loaded it (or deleted); reload it and try again")
        fields = dict(name=name, total_usd=float(scenario.total_usd), allocation=allocation, assumptions=assumptions,
                      note=scenario.note[:1000], actor=actor.name, at=now)
        (sql.update if old else sql.insert)(w, **fields)
    return replace(scenario, version=current + 1)


def delete_scenario(store: Store, *, actor: Actor, name: str) -> None:
    require(actor, "operator", "delete budget scenarios")
    with store.write() as w:
        if sql.get(w, name) is None:
            raise BudgetError(f"no scenario named {name!r}")
        sql.delete(w, name)


def compare(measured: Baseline, items: list[Scenario]) -> pd.DataFrame:
    """One row per scenario: its spend per line and its outcome."""
    rows = []
    for s in items:
        out = outcome(s.baseline or measured, s.levers, s.allocation)
        rows.append({"scenario": s.name, **{f"spend_{k}": float(s.allocation.get(k, 0.0)) for k in LINES}, **out})
    return pd.DataFrame(rows)
