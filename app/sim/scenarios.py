"""Crisis scenarios drawn from real incidents, as time-varying modifiers.

A scenario places its incidents in the simulated period and, for any array of
times (epoch seconds), says how each flow departs from calm: the legitimate
users' score shift (false positives), a submit-rate multiplier (users put off
by wrong declines and confusing screens), a model version and its decline
threshold, latency, ticket and survey effects, and the market-volatility driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from app.sim import model as m

HOUR = 3600.0
DAY = 86400.0
_erf = np.vectorize(__import__("math").erf, otypes=[float])


def phi_np(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(np.asarray(x, dtype=float) / np.sqrt(2.0)))


def ramp(t: np.ndarray, start: float, length: float) -> np.ndarray:
    return np.clip((t - start) / length, 0.0, 1.0)


@dataclass
class Mods:
    """Per-time modifiers for one flow (arrays aligned with the times)."""
    mu_legit: np.ndarray
    submit_mult: np.ndarray
    traffic_mult: np.ndarray
    fraud_mult: np.ndarray
    bad_share: np.ndarray  # share of traffic on the incident's model version
    ticket_mult: np.ndarray
    survey_shift: np.ndarray
    severity: np.ndarray  # 0..1, drives ticket categories and resolution backlog


@dataclass
class Incident:
    key: str
    title: str
    start: float
    end: float
    ongoing: bool
    flows: list[str]
    features: list[str]
    effects: dict = field(default_factory=dict)
    bad_version: str | None = None
    bad_decline_logit: float | None = None
    latency_mult: float = 1.0


def volatility(t: np.ndarray, seed: int) -> np.ndarray:
    """Calm market volatility index (about 1) with slow deterministic wobble."""
    rng = np.random.default_rng([seed, 7])
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    return 1.0 + 0.08 * np.sin(2 * np.pi * t / (3.3 * DAY) + p1) + 0.04 * np.sin(2 * np.pi * t / (17 * HOUR) + p2)


def seasonality(t: np.ndarray) -> np.ndarray:
    """Daily peak about 15:00 UTC, quieter nights; weekends a little busier (crypto)."""
    hour = (t % DAY) / HOUR
    dow = ((t // DAY) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    daily = 1.0 + 0.45 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
    weekly = np.where(dow >= 5, 1.12, 1.0)
    return daily * weekly


class Scenario:
    name = "calm"
    description = "No incident: calm traffic for false-alarm checks."

    def __init__(self, start: float, end: float, seed: int) -> None:
        self.start, self.end, self.seed = start, end, seed
        self.incidents = self.place(start, end)

    def place(self, start: float, end: float) -> list[Incident]:
        return []

    def extra_volatility(self, t: np.ndarray) -> np.ndarray:
        return np.zeros_like(t, dtype=float)

    def flow_mods(self, fm: m.FlowModel, t: np.ndarray, mods: Mods) -> None:
        """Scenarios change `mods` in place for the flows they touch."""

    def mods(self, fm: m.FlowModel, t: np.ndarray) -> Mods:
        t = np.asarray(t, dtype=float)
        vol = volatility(t, self.seed) + self.extra_volatility(t)
        one = np.ones_like(t)
        mods = Mods(
            mu_legit=one * fm.mu_legit, submit_mult=one.copy(),
            traffic_mult=seasonality(t) * (1.0 + 0.6 * (vol - 1.0)),
            fraud_mult=vol, bad_share=np.zeros_like(t), ticket_mult=seasonality(t),
            survey_shift=np.zeros_like(t), severity=np.zeros_like(t),
        )
        self.flow_mods(fm, t, mods)
        return mods

    def bad_share(self, fm: m.FlowModel, t: np.ndarray) -> np.ndarray:
        """Share of decisions at times t made by an incident's bad model version."""
        return self.mods(fm, t).bad_share

    def volatility(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return volatility(t, self.seed) + self.extra_volatility(t)

    def submit_mult_for_conversion(self, fm: m.FlowModel, target_ratio: np.ndarray, mu: np.ndarray,
                                   fraud_mult: np.ndarray) -> np.ndarray:
        """Submit-rate multiplier that makes conversion = target_ratio x calm conversion."""
        c0 = m.completion_after_submit(fm, fm.mu_legit, fm.fraud_share)
        f = np.clip(fm.fraud_share * fraud_mult, 0, 0.5)
        flag_l, dec_l = phi_np(mu - m.REVIEW_LOGIT), phi_np(mu - m.DECLINE_LOGIT)
        flag_f, dec_f = m.phi(fm.mu_fraud - m.REVIEW_LOGIT), m.phi(fm.mu_fraud - m.DECLINE_LOGIT)
        pa, pr = m.P_COMPLETE["approve"], m.P_COMPLETE["review"]
        c = (1 - f) * ((1 - flag_l) * pa + (flag_l - dec_l) * pr) + f * ((1 - flag_f) * pa + (flag_f - dec_f) * pr)
        return target_ratio * c0 / c


def _place(start: float, end: float, before_end: float, min_days: float, fraction: float) -> float:
    if (end - start) >= min_days * DAY:
        return end - before_end
    return start + fraction * (end - start)


class MarketCrash(Scenario):
    name = "market-crash-false-positives"
    description = ("A volatility crash: the deposit fraud model drifts and flags 15% of legitimate "
                   "deposits (from 2%); deposit conversion falls from 9% to 3% over a week; "
                   "deposit support tickets rise tenfold. Ongoing at the end of the data.")
    FP = 0.15
    CONV_FROM, CONV_TO = 0.09, 0.03

    def place(self, start, end):
        s = _place(start, end, 7 * DAY, 10, 0.3)
        fm = m.FLOW_BY_NAME["deposit"]
        return [Incident("crash", "Market crash: deposit fraud model flags legitimate deposits", s, end, True,
                         ["deposit"], [fm.feature],
                         effects={
                             "deposit_false_positive_rate": {"baseline": round(m.phi(fm.mu_legit), 4),
                                                             "incident": self.FP,
                                                             "reached_after_hours": 6},
                             "deposit_conversion": {"baseline": self.CONV_FROM, "incident_end": self.CONV_TO,
                                                    "falls_over_days": 7},
                             "deposit_tickets_multiplier": {"baseline": 1, "incident": 10,
                                                            "reached_after_hours": 24},
                             "market_volatility": {"peak": 3.0, "decay_days": 3},
                         })]

    def extra_volatility(self, t):
        s = self.incidents[0].start
        return 2.0 * ramp(t, s, 2 * HOUR) * np.exp(-np.clip(t - s - 2 * HOUR, 0, None) / (3 * DAY))

    def flow_mods(self, fm, t, mods):
        if fm.flow != "deposit":
            return
        s = self.incidents[0].start
        fp_ramp = ramp(t, s, 6 * HOUR)
        mods.mu_legit = fm.mu_legit + fp_ramp * (m.phi_inv(self.FP) - fm.mu_legit)
        target = (self.CONV_FROM - (self.CONV_FROM - self.CONV_TO) * ramp(t, s, 7 * DAY)) / self.CONV_FROM
        mods.submit_mult = self.submit_mult_for_conversion(fm, target, mods.mu_legit, mods.fraud_mult)
        sev = ramp(t, s, DAY)
        mods.severity = np.maximum(sev, ramp(t, s, 7 * DAY))
        mods.ticket_mult = seasonality(t) * (1.0 + 9.0 * sev)
        mods.survey_shift = -4.0 * sev


class DeclineSpike(Scenario):
    name = "decline-spike"
    description = ("A bad withdrawal risk-model deploy (3.5.0) reaches all traffic within 3 minutes; "
                   "withdrawal declines jump from about 1.5% to about 21% of decisions (a jump of "
                   "20 points) until the model is rolled back to 3.4.0 two hours later.")
    BAD_VERSION = "3.5.0"
    BAD_DECLINE_LOGIT = -1.2  # miscalibrated: declines about 20% of legitimate users
    LENGTH = 2 * HOUR

    def place(self, start, end):
        s = _place(start, end, 2 * DAY, 4, 0.6)
        fm = m.FLOW_BY_NAME["withdrawal"]
        f = fm.fraud_share
        base = (1 - f) * m.phi(fm.mu_legit - m.DECLINE_LOGIT) + f * m.phi(fm.mu_fraud - m.DECLINE_LOGIT)
        bad = (1 - f) * m.phi(fm.mu_legit - self.BAD_DECLINE_LOGIT) + f * m.phi(fm.mu_fraud - self.BAD_DECLINE_LOGIT)
        return [Incident("decline-spike", "Bad withdrawal risk-model deploy: declines spike", s,
                         min(end, s + self.LENGTH), False, ["withdrawal"], [fm.feature],
                         effects={"withdrawal_decline_rate": {"baseline": round(base, 4), "incident": round(bad, 4),
                                                              "rollout_minutes": 3},
                                  "bad_version": self.BAD_VERSION, "good_version": fm.version,
                                  "rollback_at_hours": 2},
                         bad_version=self.BAD_VERSION, bad_decline_logit=self.BAD_DECLINE_LOGIT,
                         latency_mult=1.6)]

    def flow_mods(self, fm, t, mods):
        if fm.flow != "withdrawal":
            return
        inc = self.incidents[0]
        inside = (t >= inc.start) & (t < inc.start + self.LENGTH)
        mods.bad_share = np.where(inside, ramp(t, inc.start, 180.0), 0.0)
        mods.ticket_mult = mods.ticket_mult * (1.0 + 3.0 * mods.bad_share)
        mods.severity = mods.bad_share
        mods.survey_shift = -2.0 * mods.bad_share


class LendingDelay(Scenario):
    name = "lending-model-delay"
    description = ("Under market stress, a delayed credit-model update leaves a stale model in place for "
                   "four days: it flags 12% of legitimate loan applicants (from 4%) and completed loan "
                   "applications fall 25% against what they would have been.")
    DROP = 0.25
    FP = 0.12
    LENGTH = 4 * DAY

    def place(self, start, end):
        s = _place(start, end, 6 * DAY, 8, 0.3)
        fm = m.FLOW_BY_NAME["loan_application"]
        return [Incident("lending-delay", "Stale credit model under market stress: loan applications fall", s,
                         min(end, s + self.LENGTH), False, ["loan_application"], [fm.feature],
                         effects={"loan_application_completed_vs_counterfactual": -self.DROP,
                                  "loan_application_false_positive_rate": {
                                      "baseline": round(m.phi(fm.mu_legit), 4), "incident": self.FP},
                                  "loan_application_conversion": {"baseline": fm.conversion,
                                                                  "incident": round(fm.conversion * (1 - self.DROP), 4)},
                                  "market_volatility": {"incident": 1.5}})]

    def _window(self, t):
        inc = self.incidents[0]
        return ramp(t, inc.start, 6 * HOUR) * (1.0 - ramp(t, inc.start + self.LENGTH, HOUR))

    def extra_volatility(self, t):
        return 0.5 * self._window(t)

    def flow_mods(self, fm, t, mods):
        if fm.flow != "loan_application":
            return
        w = self._window(t)
        mods.mu_legit = fm.mu_legit + w * (m.phi_inv(self.FP) - fm.mu_legit)
        mods.submit_mult = self.submit_mult_for_conversion(fm, 1.0 - self.DROP * w, mods.mu_legit, mods.fraud_mult)
        mods.severity = w
        mods.ticket_mult = mods.ticket_mult * (1.0 + 2.0 * w)
        mods.survey_shift = -1.5 * w


@dataclass(frozen=True)
class Injected:
    """One injected incident for the ROI accuracy benchmark: completions of `flow` fall by `depth`."""
    flow: str
    start: float
    length: float
    depth: float
    mitigate_after: float | None = None  # seconds after start when a throttle leaves `residual` of the depth
    residual: float = 0.2


class InjectedIncidents(Scenario):
    """Several non-overlapping incidents with known depths and lengths (the ROI benchmark's scenario).

    With `strength=0` the same seed gives the world without the incidents: the same
    traffic and the same random draws, so the twin's completions are the true
    counterfactual, not an expectation of it.
    """
    name = "injected-incidents"
    description = "Known conversion drops injected into calm traffic (ROI accuracy benchmark)."

    def __init__(self, start: float, end: float, seed: int, specs: list[Injected] | None = None,
                 strength: float = 1.0) -> None:
        self.specs, self.strength = list(specs or []), strength
        super().__init__(start, end, seed)

    def place(self, start, end):
        return injected_incidents(self.specs)

    def flow_mods(self, fm, t, mods):
        apply_injected(self.specs, self.strength, fm, t, mods)


def injected_incidents(specs: list[Injected]) -> list[Incident]:
    return [Incident(f"injected-{k}", f"Injected: {sp.flow} completions -{sp.depth:.0%}", sp.start,
                     sp.start + sp.length, False, [sp.flow], [m.FLOW_BY_NAME[sp.flow].feature or ""],
                     effects={f"{sp.flow}_completed_vs_counterfactual": -sp.depth,
                              **({"mitigated_at_s": sp.start + sp.mitigate_after,
                                  "completed_vs_counterfactual_after_mitigation": -sp.depth * sp.residual}
                                 if sp.mitigate_after is not None else {})})
            for k, sp in enumerate(specs)]


def apply_injected(specs: list[Injected], strength: float, fm: m.FlowModel, t: np.ndarray, mods: Mods) -> None:
    """Completions of each spec's flow fall by its depth inside its window (15-minute ramps); tickets rise
    and survey scores fall with the depth."""
    for sp in specs:
        if sp.flow != fm.flow:
            continue
        ramp_len = min(15 * 60.0, sp.length / 4)
        w = ramp(t, sp.start, ramp_len) * (1.0 - ramp(t, sp.start + sp.length - ramp_len, ramp_len)) * strength
        if sp.mitigate_after is not None:  # the throttle sends most users to the fallback within 10 minutes
            w = w * (1.0 - (1.0 - sp.residual) * ramp(t, sp.start + sp.mitigate_after, 600.0))
        mods.submit_mult = mods.submit_mult * (1.0 - sp.depth * w)
        mods.ticket_mult = mods.ticket_mult * (1.0 + 4.0 * sp.depth * w)
        mods.survey_shift = mods.survey_shift - 3.0 * sp.depth * w
        mods.severity = np.maximum(mods.severity, w * sp.depth)


class CrashWithHistory(MarketCrash):
    """The demo's month: two resolved incidents, then the market crash of the last week."""
    name = "market-crash-with-history"
    description = (MarketCrash.description + " Before it (with 24 days or more), two resolved incidents: "
                   "withdrawal completions -45% for 5 hours on day 9 (throttled after 1.5 hours), loan "
                   "applications -30% for 40 hours from day 15 (throttled after 9 hours); a throttle leaves a "
                   "fifth of the drop.")

    def place(self, start, end):
        crash = super().place(start, end)
        self.specs = []
        if end - start >= 24 * DAY:
            day0 = start - start % DAY
            self.specs = [Injected("withdrawal", day0 + 9 * DAY + 13.5 * HOUR, 5 * HOUR, 0.45, 1.5 * HOUR),
                          Injected("loan_application", day0 + 15 * DAY + 6 * HOUR, 40 * HOUR, 0.3, 9 * HOUR)]
        return crash + injected_incidents(self.specs)

    def flow_mods(self, fm, t, mods):
        super().flow_mods(fm, t, mods)
        apply_injected(self.specs, 1.0, fm, t, mods)


SCENARIOS: dict[str, Callable[[float, float, int], Scenario]] = {
    s.name: s for s in (MarketCrash, CrashWithHistory, DeclineSpike, LendingDelay, Scenario)
}


def get_scenario(name: str, start: float, end: float, seed: int) -> Scenario:
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; expected one of: {', '.join(SCENARIOS)}")
    return SCENARIOS[name](start, end, seed)
