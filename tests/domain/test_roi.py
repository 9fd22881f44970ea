"""The counterfactual on hand-made series whose answer is known, and on a simulated incident."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from app.domain import roi


def _hours(days: float, start="2026-06-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=int(days * 24), freq="60min")


def _seasonal_log(times: pd.DatetimeIndex) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * (times.hour.to_numpy() - 9) / 24) + 0.15 * (times.day_of_week.to_numpy() >= 5)


def test_exact_counterfactual_of_a_noise_free_series():
    times = _hours(24)
    control = 2e6 * np.exp(0.3 * np.sin(np.arange(len(times)) / 17.0))  # counts so large their noise is nil
    z = -9.0 + _seasonal_log(times) + 1.0 * np.log1p(control) + 0.01 * np.arange(len(times)) / 24
    cf = np.expm1(z)
    post = np.asarray(times >= times[-48])
    actual = np.where(post, cf * 0.7, cf)
    res = roi.counterfactual(times=times, y=actual, controls={"other": control}, train=~post, post=post, draws=500)
    truth = 0.3 * cf[post].sum()
    assert res.lost == pytest.approx(truth, rel=1e-4)
    assert res.lost_lower == pytest.approx(truth, rel=1e-4) and res.lost_upper == pytest.approx(truth, rel=1e-4)
    assert res.controls == ["other"]
    assert res.r2 == pytest.approx(1.0)
    assert res.buckets["expected"].to_numpy() == pytest.approx(cf[post], rel=1e-4)


def test_an_elasticity_other_than_one_is_learnt_when_the_data_show_it():
    times = _hours(24)
    control = 2e6 * np.exp(0.6 * np.sin(np.arange(len(times)) / 17.0))  # swings of +-60%: well identified
    z = -8.0 + _seasonal_log(times) + 0.8 * np.log1p(control)
    cf = np.expm1(z)
    post = np.asarray(times >= times[-48])
    res = roi.counterfactual(times=times, y=np.where(post, cf * 0.7, cf), controls={"other": control},
                             train=~post, post=post, draws=500)
    assert res.lost == pytest.approx(0.3 * cf[post].sum(), rel=0.01)


def test_a_market_wide_surge_in_the_window_moves_the_counterfactual_with_the_controls():
    """Traffic doubles in the window for every flow (a crash): the pre-period never saw such a swing, so
    the counterfactual follows the controls one for one rather than a weakly fitted slope."""
    rng = np.random.default_rng(1)
    times = _hours(28)
    post = np.asarray(times >= times[-72])
    surge = np.where(post, 2.0, 1.0) * np.exp(0.04 * np.sin(np.arange(len(times)) / 9.0))
    lam = np.exp(4.5 + _seasonal_log(times)) * surge
    cf = rng.poisson(lam)
    control = rng.poisson(20 * lam)
    res = roi.counterfactual(times=times, y=cf.astype(float), controls={"other": control.astype(float)},
                             train=~post, post=post, draws=1000)
    assert res.lost_lower < 0 < res.lost_upper
    assert abs(res.lost) < 0.03 * cf[post].sum()


def test_no_effect_gives_intervals_around_zero():
    covered, rel = 0, []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        times = _hours(30)
        y = rng.poisson(np.exp(4.0 + _seasonal_log(times))).astype(float)
        post = np.asarray(times >= times[-72])
        res = roi.counterfactual(times=times, y=y, controls={}, train=~post, post=post, draws=1000, seed=seed)
        covered += res.lost_lower < 0 < res.lost_upper
        rel.append(res.lost / y[post].sum())
        assert res.controls == []
    assert covered >= 8
    assert abs(np.mean(rel)) < 0.02


def test_poisson_series_with_a_known_drop_and_a_control():
    """Counts thinned by 35% in the window: the realised lost count is known exactly."""
    hits, errors = 0, []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        times = _hours(28)
        market = np.exp(0.3 * np.sin(np.arange(len(times)) / 40.0 + seed))  # shared by target and control
        lam = np.exp(4.5 + _seasonal_log(times)) * market
        cf = rng.poisson(lam)
        control = rng.poisson(2.0 * lam)
        post = np.asarray(times >= times[-36])
        actual = np.where(post, rng.binomial(cf, 0.65), cf).astype(float)
        res = roi.counterfactual(times=times, y=actual, controls={"other": control.astype(float)},
                                 train=~post, post=post, draws=1500, seed=seed)
        truth = float((cf - actual)[post].sum())
        hits += res.lost_lower <= truth <= res.lost_upper
        errors.append(abs(res.lost - truth) / truth)
    assert np.median(errors) < 0.10  # about 750 lost of 2,200: Poisson noise alone is 6%
    assert hits >= 17  # a 95% interval: 19 of 20 expected, 17 allowed for chance


def test_too_little_history_is_a_clear_error():
    times = _hours(2)
    post = np.asarray(times >= times[-10])
    with pytest.raises(roi.RoiError, match="clean data before the window"):
        roi.counterfactual(times=times, y=np.ones(len(times)), controls={}, train=~post, post=post)


def test_money_and_duration_formats():
    assert roi.money(1234.4) == "$1,234"
    assert roi.money(-5) == "-$5"
    assert roi.duration(30) == "30 min"
    assert roi.duration(180) == "3.0 h"
    assert roi.duration(None) == "n/a"
    assert math.isnan(float("nan"))


# --------------------------------------------------------------------------- on simulated incidents


def _truth(world, twin, flow, imp):
    from datetime import timezone

    from app.bench_roi import _window_sums
    s, e = imp.start.replace(tzinfo=timezone.utc), imp.end.replace(tzinfo=timezone.utc)
    cf_n, cf_usd = _window_sums(twin.tables["funnel"], flow, s, e)
    ac_n, ac_usd = _window_sums(world.tables["funnel"], flow, s, e)
    return cf_n - ac_n, (cf_usd - ac_usd) * imp.assumptions.take_rate


def test_simulated_incidents_are_covered_by_their_intervals(roi_store, roi_world):
    from app.domain import incidents
    from app.store.db import utcnow
    world, twin, specs = roi_world
    for inc_row, sp in zip(incidents.list_all(roi_store).sort_values("id").itertuples(), specs):
        inc = incidents.get(roi_store, int(inc_row.id))
        imp = roi.estimate_incident(roi_store, inc, now=utcnow())
        lost_n, lost_usd = _truth(world, twin, sp.flow, imp)
        assert imp.cf.lost_lower <= lost_n <= imp.cf.lost_upper, (sp, imp.cf.lost, lost_n)
        assert imp.cf.lost == pytest.approx(lost_n, rel=0.35)
        assert lost_n > 0
        # the other incidents' windows are left out of the fit, the other flows are controls
        assert sp.flow not in imp.cf.controls and imp.cf.controls
        assert "signup" in imp.cf.controls
        assert imp.tickets["excess"] > 0  # the injected incidents raise tickets
        surveys = world.tables["surveys"].to_pandas()
        during = surveys[(surveys["flow"] == sp.flow) & (surveys["ts"] >= pd.Timestamp(imp.start, tz="UTC"))
                         & (surveys["ts"] < pd.Timestamp(imp.end, tz="UTC"))]
        assert imp.sentiment["during"]["responses"] == len(during)
        if len(during):
            assert imp.sentiment["during"]["mean_score"] == pytest.approx(during["score"].mean(), abs=1e-3)
        assert imp.sentiment["change"]["mean_score"] == pytest.approx(
            imp.sentiment["during"]["mean_score"] - imp.sentiment["before"]["mean_score"], abs=2e-3)
        assert imp.recovery["time_to_detect"] is not None and imp.mitigated_at is not None
        before, after = imp.loss_rates_around_mitigation()
        assert imp.value_per_hour_sooner == pytest.approx(max(0.0, before - after))
        est, lo, hi = imp.lost_revenue
        assert est == pytest.approx(imp.cf.lost * imp.assumptions.avg_value_usd * imp.assumptions.take_rate)
        assert imp.assumptions.avg_value_source == "measured before the window"
        total = imp.total_cost
        assert total[0] == pytest.approx(est + imp.ticket_cost[0])
        assert total[1] <= total[0] <= total[2]


def test_excludes_other_incidents_from_the_fit(roi_store):
    from app.domain import incidents
    from app.store.db import utcnow
    last = incidents.get(roi_store, int(incidents.list_all(roi_store)["id"].max()))
    imp = roi.estimate_incident(roi_store, last, now=utcnow())
    assert set(imp.excluded_incidents) == {int(i) for i in incidents.list_all(roi_store)["id"]} - {int(last["id"])}


def test_settings_set_value_and_take_rate(roi_store, monkeypatch):
    monkeypatch.setenv("WARROOM_AVG_VALUE_USD", "deposit=300")
    monkeypatch.setenv("WARROOM_TAKE_RATE", "deposit=0.02,default=0.01")
    monkeypatch.setenv("WARROOM_COST_PER_TICKET_USD", "10")
    imp = roi.estimate(roi_store, flow="deposit", start=datetime(2026, 8, 22, 14), end=datetime(2026, 8, 23, 10))
    assert imp.assumptions == roi.Assumptions(300.0, "setting", 0.02, 10.0)
    assert imp.lost_revenue[0] == pytest.approx(imp.cf.lost * 6.0)
    assert imp.ticket_cost[0] == pytest.approx(imp.tickets["excess"] * 10)


def test_calm_windows_cost_nothing_within_their_intervals(roi_store):
    from datetime import timedelta
    covered, rel = 0, []
    for flow in ("deposit", "trade"):
        for day in (24, 26, 30, 32, 34, 36):
            start = datetime(2026, 8, 1) + timedelta(days=day)
            imp = roi.estimate(roi_store, flow=flow, start=start, end=start + timedelta(hours=36), draws=1000)
            covered += imp.cf.lost_lower < 0 < imp.cf.lost_upper
            rel.append(imp.cf.lost / imp.cf.total_actual)
            assert imp.incident is None and imp.recovery == {}
    assert covered >= 10  # of 12
    assert abs(np.mean(rel)) < 0.03


def test_unknown_flow_and_empty_window_are_clear_errors(roi_store):
    with pytest.raises(roi.RoiError, match="no funnel data for flow 'nope'"):
        roi.estimate(roi_store, flow="nope", start=datetime(2026, 8, 26), end=datetime(2026, 8, 27))
    with pytest.raises(roi.RoiError, match="ends"):
        roi.estimate(roi_store, flow="deposit", start=datetime(2026, 8, 27), end=datetime(2026, 8, 26))
