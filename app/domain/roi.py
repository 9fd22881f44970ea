"""What an incident cost: a counterfactual, and the money, tickets, sentiment and time around it.

The counterfactual follows the idea of Google's CausalImpact: fit the target
series (completed sessions of the incident's flow per bucket) on the period
before the incident, with daily and weekly seasonality, a trend and, where they
exist, control series the incident did not touch, then predict the incident
window. The model is a regression of log(1 + completions) on time-of-day
Fourier terms, day-of-week indicators, a linear trend and a control index:
log(1 + the summed views of the flows no overlapping incident names), which
share the market and the time of day. The index enters with elasticity 1 (a
market-wide surge lifts the target as much as the controls) plus a deviation
the data must earn against a ridge prior, after the counts' own noise is taken
out of the normal equations (otherwise it would attenuate the elasticity). The
residuals are AR(1), plus a level shift shared by the whole window when the
training residuals' sums over windows of that length vary more than AR(1)
says. The 95% interval comes from simulating the prediction (coefficients drawn
from their sampling distribution, residual paths) and taking the 2.5% and 97.5%
points of the simulated totals.

Left out of the fit: buckets before the store has any data, and buckets of any
other logged incident (so a past crisis does not become the "normal" baseline).
Controls are left out when an incident overlapping the window names their flow,
or when they have too little traffic to help.

From the counterfactual:
- lost conversions = expected completions - actual completions in the window;
- lost revenue = lost conversions x the flow's average value x its take rate
  (settings WARROOM_AVG_VALUE_USD and WARROOM_TAKE_RATE; the value defaults to
  the mean completed amount before the window, whose spread then widens the
  interval);
- excess tickets = tickets opened - the pre-period's tickets for the same hours
  of day, costed at WARROOM_COST_PER_TICKET_USD; extra resolution time = the
  mean resolution time during minus before, times the tickets resolved;
- sentiment = mean survey score and NPS during against before, with their counts;
- recovery times from the incident's timeline;
- loss per hour = lost revenue / window hours; an hour sooner of mitigation
  would have saved the loss rate before mitigation minus the rate after it (the
  loss rate itself while the incident is not mitigated).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from app import settings
from app.domain import incidents as incidents_domain
from app.domain import metrics
from app.store import roi as sql
from app.store.db import Store

DRAWS = 2000
DAILY_ORDER = 4
CONTROL = "control_index"
ELASTICITY_PRIOR_SD = 0.1  # prior: the target moves with the control index one for one, give or take this
MIN_TRAIN_BUCKETS = 48
SHORT_WINDOW = timedelta(hours=12)  # windows shorter than this use 15-minute buckets
MIN_CONTROL_MEAN = 5.0  # views per bucket a control needs on average


class RoiError(ValueError):
    """The impact of a window cannot be estimated (no data before it, unknown flow, ...)."""


# --------------------------------------------------------------------------- the counterfactual (pure)


@dataclass
class Counterfactual:
    """Actual against expected for each bucket of the window, and over the whole window."""
    buckets: pd.DataFrame  # bucket, actual, expected, lower, upper (per-bucket 95% band)
    history: pd.DataFrame  # bucket, actual, fitted: the training buckets (for charts and checks)
    total_actual: float
    total_expected: float
    total_lower: float
    total_upper: float
    lost: float
    lost_lower: float
    lost_upper: float
    controls: list[str]
    n_train: int
    r2: float
    residual_sd: float
    autocorrelation: float
    level_sd: float = 0.0
    lost_draws: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    lost_by_bucket: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))


def design(times: pd.DatetimeIndex, controls: dict[str, np.ndarray], *, origin: pd.Timestamp,
           weekly: bool, daily: bool) -> tuple[np.ndarray, list[str]]:
    """Regressors for each time: intercept, trend (days), time of day, day of week, and the control index
    log(1 + the controls' sum)."""
    cols, names = [np.ones(len(times))], ["intercept"]
    cols.append(((times - origin) / pd.Timedelta(days=1)).to_numpy(dtype=float))
    names.append("trend_days")
    if daily:
        # Time of day as Fourier terms (order 4, as Prophet's daily seasonality): smooth, and 8
        # coefficients instead of 23 hour indicators, so a short window is predicted more tightly.
        day = ((times - times.normalize()) / pd.Timedelta(hours=24)).to_numpy(dtype=float)
        for k in range(1, DAILY_ORDER + 1):
            cols += [np.sin(2 * np.pi * k * day), np.cos(2 * np.pi * k * day)]
            names += [f"day_sin{k}", f"day_cos{k}"]
    if weekly:
        dow = times.day_of_week.to_numpy()
        for d in range(1, 7):
            cols.append((dow == d).astype(float))
            names.append(f"dow_{d}")
    if controls:
        total = np.sum([np.asarray(v, dtype=float) for v in controls.values()], axis=0)
        cols.append(np.log1p(total))
        names.append(CONTROL)
    return np.column_stack(cols), names


def _ar1_sum_variance(h: int, sigma: float, rho: float) -> float:
    k = np.arange(1, h)
    return sigma ** 2 * (h + 2.0 * float(((h - k) * rho ** k).sum()))


def _level_variance(resid: np.ndarray, train: np.ndarray, h: int, sigma: float, rho: float) -> float:
    """Variance of a level shift shared by the whole window, beyond what AR(1) residuals explain.

    Slow wobbles the regressors miss (a market mood lasting days) make the
    training residuals' sums over h consecutive buckets vary more than a lag-1
    model implies; the excess, spread over the window as a common shift, keeps
    the window's interval honest without moving its centre.
    """
    if h < 2 or sigma <= 0:
        return 0.0
    r = np.where(train, resid, 0.0)
    ok = train.astype(int)
    cs, cn = np.concatenate([[0.0], np.cumsum(r)]), np.concatenate([[0], np.cumsum(ok)])
    sums = cs[h:] - cs[:-h]
    full = (cn[h:] - cn[:-h]) == h
    if full.sum() < 30:
        return 0.0
    excess = float(np.mean(sums[full] ** 2)) - _ar1_sum_variance(h, sigma, rho)
    return max(0.0, excess) / h ** 2


def counterfactual(*, times: pd.DatetimeIndex, y: np.ndarray, controls: dict[str, np.ndarray],
                   train: np.ndarray, post: np.ndarray, draws: int = DRAWS, seed: int = 0) -> Counterfactual:
    """Fit on the `train` buckets, predict the `post` buckets (see the module docstring)."""
    y = np.asarray(y, dtype=float)
    train, post = np.asarray(train, dtype=bool), np.asarray(post, dtype=bool)
    n_train = int(train.sum())
    if n_train < MIN_TRAIN_BUCKETS:
        raise RoiError(f"only {n_train} buckets of clean data before the window (at least {MIN_TRAIN_BUCKETS} "
                       "are needed): load more history or shorten WARROOM_ROI_PRE_DAYS' gaps")
    if not post.any():
        raise RoiError("the window holds no whole bucket")
    train_days = (times[train].max() - times[train].min()) / pd.Timedelta(days=1)
    X, names = design(times, controls, origin=times[train].min(), weekly=train_days >= 13, daily=train_days >= 2)
    # Drop regressors that do not vary in training (a weekday never seen, an idle control).
    keep = np.ones(X.shape[1], dtype=bool)
    keep[1:] = X[train][:, 1:].std(axis=0) > 0
    X, names = X[:, keep], [n for n, k in zip(names, keep) if k]
    z = np.log1p(y)
    # The control index enters as an offset (elasticity 1: a market-wide surge in traffic lifts the target as
    # much as the controls) plus a deviation from it that the data must earn against a prior (ridge): the
    # weeks before an incident rarely hold a shock as large as the one during it, so a freely fitted
    # elasticity would be weakly identified and extrapolate badly (a crash doubling traffic).
    # The control index is counted, so it is measured with noise (about 1/count in log terms); a plain fit
    # would attenuate the elasticity towards 0 (errors in variables), so that noise is taken out of the
    # normal equations (a method-of-moments correction) before the prior is added.
    ci = names.index(CONTROL) if CONTROL in names else None
    offset = X[:, ci] if ci is not None else np.zeros(len(z))
    Xt, zt = X[train], (z - offset)[train]
    xtx, rhs = Xt.T @ Xt, Xt.T @ zt
    if ci is not None:
        free = [j for j in range(X.shape[1]) if j != ci]
        b0 = np.linalg.lstsq(Xt[:, free], zt, rcond=None)[0]
        r0 = zt - Xt[:, free] @ b0
        noise = float(np.sum(1.0 / (np.expm1(X[train, ci]) + 1.0)))
        xtx[ci, ci] += float(r0 @ r0 / max(n_train - len(free), 1)) / ELASTICITY_PRIOR_SD ** 2 - noise
        rhs[ci] += noise
        if np.linalg.eigvalsh(xtx).min() <= 0:  # the noise swamps the signal: keep elasticity 1
            xtx[ci, ci], rhs[ci] = 1e12, 0.0
    xtx_inv = np.linalg.pinv(xtx)
    beta = xtx_inv @ rhs
    resid = zt - Xt @ beta
    dof = max(n_train - X.shape[1], 1)
    sigma = float(np.sqrt(resid @ resid / dof))
    # Lag-1 autocorrelation over consecutive training buckets only.
    idx = np.flatnonzero(train)
    consecutive = np.diff(idx) == 1
    r_all = np.empty(len(y))
    r_all[idx] = resid
    a, b = r_all[idx[:-1][consecutive]], r_all[idx[1:][consecutive]]
    rho = float(np.clip(np.corrcoef(a, b)[0, 1], 0.0, 0.95)) if len(a) > 10 and a.std() > 0 and b.std() > 0 else 0.0
    z_train = z[train]
    ss_tot = float(((z_train - z_train.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0

    h = int(post.sum())
    tau2 = _level_variance(r_all, train, h, sigma, rho)

    rng = np.random.default_rng(seed)
    Xp = X[post]
    cov = sigma ** 2 * xtx_inv
    cov = (cov + cov.T) / 2
    w, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.clip(w, 0, None))
    beta_draws = beta + rng.standard_normal((draws, len(beta))) @ root.T
    mu = beta_draws @ Xp.T + offset[post]  # draws x H
    e = np.empty((draws, h))
    e[:, 0] = rng.standard_normal(draws) * sigma
    innov = rng.standard_normal((draws, h)) * sigma * math.sqrt(1 - rho ** 2)
    for t in range(1, h):
        e[:, t] = rho * e[:, t - 1] + innov[:, t]
    e += rng.standard_normal((draws, 1)) * math.sqrt(tau2) - tau2 / 2  # mean-preserving common shift
    sims = np.clip(np.expm1(mu + e), 0.0, None)
    actual = y[post]
    totals = sims.sum(axis=1)
    lost_draws = totals - actual.sum()
    expected = sims.mean(axis=0)
    buckets = pd.DataFrame({"bucket": times[post], "actual": actual, "expected": expected,
                            "lower": np.percentile(sims, 2.5, axis=0), "upper": np.percentile(sims, 97.5, axis=0)})
    history = pd.DataFrame({"bucket": times[train], "actual": y[train],
                            "fitted": np.expm1(Xt @ beta + offset[train] + sigma ** 2 / 2)})
    lo, hi = np.percentile(totals, [2.5, 97.5])
    return Counterfactual(
        buckets=buckets, history=history, total_actual=float(actual.sum()), total_expected=float(totals.mean()),
        total_lower=float(lo), total_upper=float(hi), lost=float(lost_draws.mean()),
        lost_lower=float(lo - actual.sum()), lost_upper=float(hi - actual.sum()),
        controls=list(controls) if CONTROL in names else [], n_train=n_train,
        r2=r2, residual_sd=sigma, autocorrelation=rho, level_sd=math.sqrt(tau2), lost_draws=lost_draws, lost_by_bucket=expected - actual)


# --------------------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Assumptions:
    avg_value_usd: float
    avg_value_source: str  # "setting" or "measured before the window"
    take_rate: float
    cost_per_ticket_usd: float


def _per_flow(mapping: dict[str, float], flow: str) -> float | None:
    if flow in mapping:
        return mapping[flow]
    return mapping.get("default")


def assumptions_for(flow: str, *, measured_avg_value: float) -> Assumptions:
    value = _per_flow(settings.get("avg_value_usd"), flow)
    take = _per_flow(settings.get("take_rate"), flow)
    return Assumptions(
        avg_value_usd=float(value) if value is not None else float(measured_avg_value),
        avg_value_source="setting" if value is not None else "measured before the window",
        take_rate=float(take) if take is not None else 0.0,
        cost_per_ticket_usd=float(settings.get("cost_per_ticket_usd")))


# --------------------------------------------------------------------------- impact of a window


@dataclass
class Impact:
    flow: str
    incident: dict | None
    start: datetime
    end: datetime
    grain_minutes: int
    pre_start: datetime
    excluded_incidents: list[int]
    cf: Counterfactual
    starts: float
    actual_volume_usd: float
    assumptions: Assumptions
    tickets: dict
    sentiment: dict
    sentiment_series: pd.DataFrame
    recovery: dict  # name -> timedelta | None
    mitigated_at: datetime | None
    comments: int
    revenue: tuple[float, float, float]  # lost revenue: estimate, 95% lower, upper

    def recovery_minutes(self) -> dict[str, float | None]:
        """Recovery times in minutes (rounded to 0.1; None where a stamp is missing)."""
        return {k: _minutes(v) for k, v in self.recovery.items()}

    def history_tail(self, days: float = 3.0) -> pd.DataFrame:
        """The fitted buckets of the last `days` before the window (the chart's context)."""
        h = self.cf.history
        return h[h["bucket"] >= pd.Timestamp(self.start - timedelta(days=days))]

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0

    @property
    def revenue_per_conversion(self) -> float:
        return self.assumptions.avg_value_usd * self.assumptions.take_rate

    @property
    def lost_revenue(self) -> tuple[float, float, float]:
        return self.revenue

    @property
    def ticket_cost(self) -> tuple[float, float, float]:
        c = self.assumptions.cost_per_ticket_usd
        t = self.tickets
        return t["excess"] * c, t["excess_lower"] * c, t["excess_upper"] * c

    @property
    def total_cost(self) -> tuple[float, float, float]:
        r, t = self.lost_revenue, self.ticket_cost
        # The two intervals are independent; their half-widths add in quadrature.
        lo = r[0] + t[0] - math.hypot(r[0] - r[1], t[0] - t[1])
        hi = r[0] + t[0] + math.hypot(r[2] - r[0], t[2] - t[0])
        return r[0] + t[0], lo, hi

    @property
    def loss_per_hour(self) -> float:
        return self.lost_revenue[0] / self.hours if self.hours > 0 else 0.0

    def loss_rates_around_mitigation(self) -> tuple[float, float | None]:
        """Lost revenue per hour before mitigation and after it (None when never mitigated in the window)."""
        lost = self.cf.lost_by_bucket * self.revenue_per_conversion
        times = pd.DatetimeIndex(self.cf.buckets["bucket"])
        width = self.grain_minutes / 60.0
        m = self.mitigated_at
        if m is None or not (self.start < m < self.end):
            return self.loss_per_hour, None
        before = times < pd.Timestamp(m)
        hb, ha = before.sum() * width, (~before).sum() * width
        rate_b = float(lost[before].sum()) / hb if hb else 0.0
        rate_a = float(lost[~before].sum()) / ha if ha else 0.0
        return rate_b, rate_a

    @property
    def value_per_hour_sooner(self) -> float:
        before, after = self.loss_rates_around_mitigation()
        return max(0.0, before - (after or 0.0))

    @property
    def conversion(self) -> tuple[float, float, float, float]:
        """(actual, expected, lower, upper) conversion: completions over the window's actual starts."""
        s = self.starts
        if s <= 0:
            return (math.nan,) * 4
        cf = self.cf
        return cf.total_actual / s, cf.total_expected / s, cf.total_lower / s, cf.total_upper / s

    def to_json(self) -> dict:
        cf = self.cf
        conv = self.conversion
        avg = self.assumptions.avg_value_usd
        rev, tc, total = self.lost_revenue, self.ticket_cost, self.total_cost
        before_rate, after_rate = self.loss_rates_around_mitigation()

        def span(est, lo, hi, digits=2):
            return {"estimate": _num(est, digits), "lower": _num(lo, digits), "upper": _num(hi, digits)}

        return {
            "flow": self.flow,
            "incident": None if self.incident is None else {
                "id": int(self.incident["id"]), "title": self.incident["title"],
                "severity": self.incident["severity"], "status": self.incident["status"]},
            "window": {"start": _iso(self.start), "end": _iso(self.end), "hours": round(self.hours, 3),
                       "bucket_minutes": self.grain_minutes},
            "pre_period": {"start": _iso(self.pre_start), "end": _iso(self.start), "buckets_used": cf.n_train,
                           "excluded_incidents": self.excluded_incidents},
            "counterfactual": {
                "method": "log-linear regression on time of day (Fourier, order 4), day of week, trend and controls; "
                          "AR(1) residuals plus a window-wide level shift",
                "controls": cf.controls,
                "fit": {"r2": _num(cf.r2, 4), "residual_sd": _num(cf.residual_sd, 4),
                        "autocorrelation": _num(cf.autocorrelation, 4)},
                "completions": {"actual": _num(cf.total_actual, 1), "expected": _num(cf.total_expected, 1),
                                "lower": _num(cf.total_lower, 1), "upper": _num(cf.total_upper, 1)},
                "conversion": {"actual": _num(conv[0], 5), "expected": _num(conv[1], 5),
                               "lower": _num(conv[2], 5), "upper": _num(conv[3], 5)},
                "completed_volume_usd": {"actual": _num(self.actual_volume_usd),
                                         "expected": _num(self.actual_volume_usd + cf.lost * avg),
                                         "lower": _num(self.actual_volume_usd + cf.lost_lower * avg),
                                         "upper": _num(self.actual_volume_usd + cf.lost_upper * avg)},
            },
            "assumptions": {**asdict(self.assumptions), "avg_value_usd": _num(self.assumptions.avg_value_usd)},
            "lost": {"conversions": span(cf.lost, cf.lost_lower, cf.lost_upper, 1),
                     "revenue_usd": span(*rev)},
            "support": {**{k: _num(v, 2) for k, v in self.tickets.items()}, "cost_usd": span(*tc)},
            "sentiment": {**self.sentiment, "comments": self.comments},
            "recovery_minutes": self.recovery_minutes(),
            "mitigated_at": _iso(self.mitigated_at) if self.mitigated_at else None,
            "loss_per_hour_usd": _num(self.loss_per_hour),
            "loss_per_hour_before_mitigation_usd": _num(before_rate),
            "loss_per_hour_after_mitigation_usd": None if after_rate is None else _num(after_rate),
            "value_per_hour_sooner_usd": _num(self.value_per_hour_sooner),
            "total_cost_usd": span(*total),
            "buckets": [{"start": _iso(r.bucket), "actual": _num(r.actual, 1), "expected": _num(r.expected, 2),
                         "lower": _num(r.lower, 2), "upper": _num(r.upper, 2)}
                        for r in cf.buckets.itertuples()],
        }


def _num(v, digits: int = 2):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else round(v, digits)


def _iso(t) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(d: timedelta | None):
    return None if d is None else round(d.total_seconds() / 60.0, 1)


def grain_for(start: datetime, end: datetime) -> int:
    return 15 if end - start < SHORT_WINDOW else 60


def _full_index(start: datetime, end: datetime, minutes: int) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=f"{minutes}min", inclusive="left")


def estimate(store: Store, *, flow: str, start: datetime, end: datetime, incident: dict | None = None,
             draws: int = DRAWS, seed: int = 0) -> Impact:
    """The impact on `flow` of what happened in [start, end) (an incident's window, or any window)."""
    if end <= start:
        raise RoiError(f"the window ends ({end}) before it starts ({start})")
    minutes = grain_for(start, end)
    step = timedelta(minutes=minutes)
    n_post = int((end - start) / step)
    if n_post < 1:
        raise RoiError(f"the window is shorter than one {minutes}-minute bucket")
    end = start + n_post * step  # whole buckets only: a partial last bucket would read as a loss
    pre_days = float(settings.get("roi_pre_days"))
    pre_start = start - timedelta(days=pre_days)
    pre_start = start - int((start - pre_start) / step) * step
    index = _full_index(pre_start, end, minutes)

    raw = sql.funnel_buckets(store, start=pre_start, end=end, minutes=minutes, origin=start)
    if raw.empty or flow not in set(raw["flow"]):
        raise RoiError(f"no funnel data for flow {flow!r} between {pre_start} and {end}")
    raw["bucket"] = pd.to_datetime(raw["bucket"])
    complete = raw.pivot_table(index="bucket", columns="flow", values="n_complete", aggfunc="sum")
    complete = complete.reindex(index, fill_value=0).fillna(0)
    views = raw.pivot_table(index="bucket", columns="flow", values="n_view", aggfunc="sum")
    views = views.reindex(index, fill_value=0).fillna(0)
    starts_t = raw[raw["flow"] == flow].set_index("bucket")["n_start"].reindex(index, fill_value=0)
    usd_t = raw[raw["flow"] == flow].set_index("bucket")["completed_usd"].reindex(index, fill_value=0.0)
    activity = raw.groupby("bucket")["n_start"].sum().reindex(index, fill_value=0)
    first_data = activity[activity > 0].index.min()

    post = np.asarray(index >= pd.Timestamp(start))
    train = (~post) & np.asarray(index >= first_data)
    # Leave out every other incident's window; note which flows incidents touched during this window.
    windows = sql.incident_windows(store, start=pre_start, end=end)
    excluded, touched = [], set(incident["flows"] if incident else [flow])
    own_id = int(incident["id"]) if incident else None
    for w in windows.itertuples():
        if own_id is not None and int(w.id) == own_id:
            continue
        began = pd.Timestamp(w.began)
        until = pd.Timestamp(w.resolved_at) if pd.notna(w.resolved_at) else pd.Timestamp(end)
        hit = np.asarray((index + step) > began) & np.asarray(index < until)
        if (hit & train).any():
            excluded.append(int(w.id))
        train &= ~hit
        if until > pd.Timestamp(start) and began < pd.Timestamp(end):
            touched.update(w.flows)
    controls = {}
    for other in views.columns:
        if other == flow or other in touched:
            continue
        values = views[other].to_numpy(dtype=float)
        if train.any() and values[train].mean() >= MIN_CONTROL_MEAN:
            controls[other] = values
    cf = counterfactual(times=index, y=complete[flow].to_numpy(dtype=float), controls=controls,
                        train=train, post=post, draws=draws, seed=seed)
    fitted_from = index[train][0].to_pydatetime()  # the first bucket used (data may begin after pre_start)

    n_complete_train = float(complete[flow].to_numpy()[train].sum())
    measured_avg = float(usd_t.to_numpy()[train].sum()) / n_complete_train if n_complete_train else 0.0
    assumptions = assumptions_for(flow, measured_avg_value=measured_avg)
    revenue = _lost_revenue(store, cf, assumptions, flow=flow, pre_start=pre_start, start=start, seed=seed)
    tickets = _tickets(store, flow=flow, index=index, train=train, post=post, minutes=minutes, start=start, end=end,
                       pre_start=pre_start)
    sentiment, series = _sentiment(store, flow=flow, index=index, train=train, post=post, minutes=minutes,
                                   start=start, end=end, pre_start=pre_start)
    recovery, mitigated_at = {}, None
    if incident is not None:
        rt = incidents_domain.recovery_times(incident)
        recovery = {"time_to_detect": rt.time_to_detect, "time_to_acknowledge": rt.time_to_acknowledge,
                    "time_to_mitigate": rt.time_to_mitigate, "time_to_resolve": rt.time_to_resolve,
                    "time_to_toggle": rt.time_to_toggle}
        mitigated_at = mitigation_time(incident)
    return Impact(
        flow=flow, incident=incident, start=start, end=end, grain_minutes=minutes, pre_start=fitted_from,
        excluded_incidents=excluded, cf=cf, starts=float(starts_t.to_numpy()[post].sum()),
        actual_volume_usd=float(usd_t.to_numpy()[post].sum()), assumptions=assumptions, tickets=tickets,
        sentiment=sentiment, sentiment_series=series, recovery=recovery, mitigated_at=mitigated_at,
        comments=sql.survey_comment_count(store, flow=flow, start=start, end=end), revenue=revenue)


def _lost_revenue(store: Store, cf: Counterfactual, a: Assumptions, *, flow: str, pre_start: datetime,
                  start: datetime, seed: int) -> tuple[float, float, float]:
    """Lost conversions x value x take rate. When the value is the measured mean amount, the interval
    also carries the spread of the amounts the lost sessions would have had."""
    draws = cf.lost_draws * a.avg_value_usd
    if a.avg_value_source != "setting":
        n, _, sd = sql.completed_amount_stats(store, flow=flow, start=pre_start, end=start)
        if n > 1 and sd > 0:
            rng = np.random.default_rng([seed, 1])
            draws = draws + rng.standard_normal(len(draws)) * sd * np.sqrt(np.abs(cf.lost_draws))
    draws = draws * a.take_rate
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return cf.lost * a.avg_value_usd * a.take_rate, float(lo), float(hi)


def mitigation_time(incident: dict) -> datetime | None:
    """The first throttle, kill or rollback linked to the incident, else the time it was marked mitigated."""
    return incident.get("first_mitigation_at") or incident.get("mitigated_at")


def incident_window(incident: dict, *, now: datetime) -> tuple[datetime, datetime]:
    start = incident.get("started_at") or incident.get("detected_at") or incident["created_at"]
    return start, incident.get("resolved_at") or now


def estimate_incident(store: Store, incident: dict, *, now: datetime, flow: str | None = None,
                      draws: int = DRAWS) -> Impact:
    """The impact of a logged incident on its first flow (or `flow`), from its start to its resolution (or now)."""
    if not incident["flows"]:
        raise RoiError(f"incident #{incident['id']} names no flow")
    start, end = incident_window(incident, now=now)
    return estimate(store, flow=flow or incident["flows"][0], start=start, end=end, incident=incident,
                    draws=draws, seed=int(incident["id"]))


def _hour_profile(values: np.ndarray, hours: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per bucket: the training mean of buckets at the same hour of day (overall mean where none)."""
    overall = values[train].mean() if train.any() else 0.0
    prof = np.full(24, overall)
    for h in range(24):
        m = train & (hours == h)
        if m.any():
            prof[h] = values[m].mean()
    return prof[hours]


def _tickets(store, *, flow, index, train, post, minutes, start, end, pre_start) -> dict:
    raw = sql.ticket_buckets(store, flow=flow, start=pre_start, end=end, minutes=minutes, origin=start)
    raw["bucket"] = pd.to_datetime(raw["bucket"])
    t = raw.set_index("bucket").reindex(index, fill_value=0).fillna(0)
    opened = t["n_opened"].to_numpy(dtype=float)
    baseline_b = _hour_profile(opened, index.hour.to_numpy(), train)
    actual, baseline = float(opened[post].sum()), float(baseline_b[post].sum())
    # Poisson noise of the window's count and of the profile estimated from the training days.
    days = max(float(train.sum()) * minutes / 1440.0, 1.0)
    sd = math.sqrt(baseline + baseline / days)
    res_n, res_s = t["n_resolved"].to_numpy(dtype=float), t["resolution_s_sum"].to_numpy(dtype=float)
    before_h = res_s[train].sum() / res_n[train].sum() / 3600.0 if res_n[train].sum() else math.nan
    during_h = res_s[post].sum() / res_n[post].sum() / 3600.0 if res_n[post].sum() else math.nan
    extra = (during_h - before_h) * res_n[post].sum() if not (math.isnan(before_h) or math.isnan(during_h)) else 0.0
    return {"tickets": actual, "baseline": baseline, "excess": actual - baseline,
            "excess_lower": actual - baseline - 1.96 * sd, "excess_upper": actual - baseline + 1.96 * sd,
            "resolution_hours_before": before_h, "resolution_hours_during": during_h,
            "extra_resolution_hours": extra}


def _sentiment(store, *, flow, index, train, post, minutes, start, end, pre_start) -> tuple[dict, pd.DataFrame]:
    raw = sql.survey_buckets(store, flow=flow, start=pre_start, end=end, minutes=minutes, origin=start)
    raw["bucket"] = pd.to_datetime(raw["bucket"])
    s = raw.set_index("bucket").reindex(index, fill_value=0).fillna(0)

    def part(mask) -> dict:
        n = float(s["n"].to_numpy()[mask].sum())
        return {"responses": int(n),
                "mean_score": _num(metrics.mean_score(float(s["score_sum"].to_numpy()[mask].sum()), n), 3),
                "nps": _num(metrics.nps(float(s["n_promoters"].to_numpy()[mask].sum()),
                                        float(s["n_detractors"].to_numpy()[mask].sum()), n), 1)}

    before, during = part(train), part(post)
    change = {k: (None if before[k] is None or during[k] is None else round(during[k] - before[k], 3))
              for k in ("mean_score", "nps")}
    # Chart series: daily for long windows, hourly for short ones, over the last week before and the window.
    chart_minutes = 1440 if end - start >= timedelta(days=2) else 60
    c0 = max(pre_start, start - timedelta(days=7))
    ser = sql.survey_buckets(store, flow=flow, start=c0, end=end, minutes=chart_minutes, origin=start)
    ser["mean_score"] = metrics.mean_score(ser["score_sum"].astype(float), ser["n"].astype(float))
    ser["nps"] = metrics.nps(ser["n_promoters"].astype(float), ser["n_detractors"].astype(float), ser["n"].astype(float))
    ser["during"] = pd.to_datetime(ser["bucket"]) >= pd.Timestamp(start)
    return {"before": before, "during": during, "change": change}, ser


def money(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"


def duration(minutes) -> str:
    if minutes is None:
        return "n/a"
    m = float(minutes)
    return f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} h"


def hours_text(h) -> str:
    return "n/a" if h is None or (isinstance(h, float) and math.isnan(h)) else f"{h:.1f} h"


def minutes_as_hours(m) -> str:
    """A duration in minutes (None or NaN when unknown) as '1.5 h'."""
    return hours_text(None if m is None else m / 60.0)


def summary_text(data: dict) -> str:
    """The `warroom roi` printout of an impact's JSON."""
    w, cf, lost, sup, sen = data["window"], data["counterfactual"], data["lost"], data["support"], data["sentiment"]
    a = data["assumptions"]
    title = (f"incident #{data['incident']['id']}: {data['incident']['title']}" if data["incident"]
             else f"flow {data['flow']}")
    conv = cf["conversion"]

    def pct(v):
        return "n/a" if v is None else f"{v:.2%}"

    def span(d, f):
        return f"{f(d['estimate'])} (95% interval {f(d['lower'])} .. {f(d['upper'])})"

    lines = [
        f"{title}",
        f"  window           {w['start']} .. {w['end']} ({w['hours']:.1f} h, {w['bucket_minutes']}-minute buckets), "
        f"flow {data['flow']}",
        f"  fitted on        {data['pre_period']['buckets_used']} buckets from {data['pre_period']['start']}"
        + (f", leaving out incidents {', '.join(f'#{i}' for i in data['pre_period']['excluded_incidents'])}"
           if data["pre_period"]["excluded_incidents"] else ""),
        f"  controls         {', '.join(cf['controls']) or 'none (seasonality and trend only)'}; "
        f"fit R2 {cf['fit']['r2']}",
        f"  completions      actual {cf['completions']['actual']:,.0f}, expected {cf['completions']['expected']:,.0f} "
        f"({cf['completions']['lower']:,.0f} .. {cf['completions']['upper']:,.0f})",
        f"  conversion       actual {pct(conv['actual'])}, expected {pct(conv['expected'])} "
        f"({pct(conv['lower'])} .. {pct(conv['upper'])})",
        f"  lost conversions {span(lost['conversions'], lambda v: f'{v:,.0f}')}",
        f"  lost revenue     {span(lost['revenue_usd'], money)}",
        f"                   at {money(a['avg_value_usd'])} per completion ({a['avg_value_source']}) x take rate "
        f"{a['take_rate']:.2%}",
        f"  support          {sup['tickets']:,.0f} tickets against {sup['baseline']:,.1f} expected: "
        f"{sup['excess']:+,.0f} costing {span(sup['cost_usd'], money)} at {money(a['cost_per_ticket_usd'])}/ticket",
        f"                   resolution {hours_text(sup['resolution_hours_before'])} before, "
        f"{hours_text(sup['resolution_hours_during'])} during "
        f"({sup['extra_resolution_hours']:+,.0f} ticket-hours)",
        f"  sentiment        mean score {sen['before']['mean_score']} -> {sen['during']['mean_score']}, "
        f"NPS {sen['before']['nps']} -> {sen['during']['nps']} "
        f"({sen['before']['responses']} responses before, {sen['during']['responses']} during, "
        f"{sen['comments']} comments)",
    ]
    if data["incident"]:
        r = data["recovery_minutes"]
        lines.append("  recovery         " + ", ".join(
            f"{k.removeprefix('time_to_').replace('_', ' ')} {duration(v)}" for k, v in r.items()))
    lines += [
        f"  loss per hour    {money(data['loss_per_hour_usd'])}; each hour sooner of mitigation would have saved "
        f"{money(data['value_per_hour_sooner_usd'])}",
        f"  total cost       {span(data['total_cost_usd'], money)}",
    ]
    return "\n".join(lines)


def comments(store: Store, *, flow: str, start: datetime, end: datetime, limit: int = 200) -> pd.DataFrame:
    """Survey responses with a comment in the window, lowest score first."""
    return sql.survey_comments(store, flow=flow, start=start, end=end, limit=limit)


def version_key(store: Store) -> tuple:
    """Names the store and the state of its data, incidents and flags: a cache key for estimates."""
    return (str(store.path), *sql.data_version(store))
