"""`warroom bench roi`: accuracy of the incident-cost estimate against injected truth.

Each run simulates calm traffic (its own seed and scale) with several
non-overlapping incidents of known depth and length on different flows, loads
it into a fresh store, logs the incidents, and estimates each one through the
same path as `warroom roi --incident`. The truth is the same world simulated
again without the incidents (same seed, same random draws): its completed
volume in the window minus the actual one, times the take rate, is the revenue
the incident really cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FLOWS = ("deposit", "withdrawal", "trade", "loan_application")
SCALES = (0.5, 1.0, 1.5, 0.75, 1.25, 1.0, 0.5)
LEAD_DAYS = 21.0


@dataclass
class Result:
    run: int
    flow: str
    scale: float
    hours: float
    depth: float
    truth_usd: float
    estimate_usd: float
    lower_usd: float
    upper_usd: float
    truth_conv: float
    estimate_conv: float
    lower_conv: float
    upper_conv: float
    seconds: float
    controls: int
    avg_value: float = 0.0
    oracle_usd: float = float("nan")  # an estimator that knows the expected counterfactual exactly

    @property
    def oracle_error(self) -> float:
        return abs(self.oracle_usd - self.truth_usd) / abs(self.truth_usd) if self.truth_usd else float("nan")

    @property
    def error(self) -> float:
        return abs(self.estimate_usd - self.truth_usd) / abs(self.truth_usd) if self.truth_usd else float("nan")

    @property
    def covered(self) -> bool:
        return self.lower_usd <= self.truth_usd <= self.upper_usd

    @property
    def covered_conv(self) -> bool:
        return self.lower_conv <= self.truth_conv <= self.upper_conv


def _window_sums(funnel: pa.Table, flow: str, start: datetime, end: datetime) -> tuple[float, float]:
    """(completions, completed USD) of `flow` in [start, end) from a simulated funnel table."""
    ts = funnel["ts"]
    mask = pc.and_(pc.and_(pc.equal(funnel["flow"], flow), pc.equal(funnel["step"], "complete")),
                   pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type))))
    rows = funnel.filter(mask)
    return float(rows.num_rows), float(pc.sum(rows["amount_usd"]).as_py() or 0.0)


COMPLETION_LAG_S = 20.0 + 90.0 + 30.0  # mean seconds from view to completion in the simulator


def expected_completions(scn, flow: str, start: float, end: float, scale: float) -> float:
    """Expected completions of `flow` in [start, end) in the simulated world `scn` (no noise): the
    noise floor that no estimator fed with one realisation can beat."""
    from app.sim import model as m
    fm = m.FLOW_BY_NAME[flow]
    slots = np.arange(start - COMPLETION_LAG_S, end - COMPLETION_LAG_S, 60.0)
    mods = scn.mods(fm, slots + 30.0)
    views = fm.views_per_min * scale * mods.traffic_mult
    p_sub = np.clip(m.base_p_submit(fm) * mods.submit_mult, 0, 1)
    if fm.feature and fm.labelled:
        comp = np.array([m.completion_after_submit(fm, mu, min(0.5, fm.fraud_share * f))
                         for mu, f in zip(mods.mu_legit, mods.fraud_mult)])
    else:
        comp = np.full(len(slots), m.P_COMPLETE["approve"])
    return float((views * fm.p_start * p_sub * comp).sum())


def _specs(rng: np.random.Generator, t0: float, per_run: int):
    from app.sim.scenarios import DAY, HOUR, Injected
    specs, cursor = [], t0 + LEAD_DAYS * DAY
    for _ in range(per_run):
        start = cursor + rng.uniform(0, DAY)
        length = float(np.exp(rng.uniform(np.log(3 * HOUR), np.log(72 * HOUR))))
        specs.append(Injected(flow=str(rng.choice(FLOWS)), start=round(start / 60) * 60.0,
                              length=round(length / 60) * 60.0, depth=float(rng.uniform(0.1, 0.5))))
        cursor = specs[-1].start + specs[-1].length + rng.uniform(1, 2) * DAY
    return specs, cursor + DAY


def run_one(run: int, *, per_run: int, scale: float, seed: int, scratch: Path) -> list[Result]:
    from app.domain import incidents, roi
    from app.sim import model as m
    from app.sim.generator import generate
    from app.sim.history import log_incident
    from app.sim.scenarios import InjectedIncidents
    from app.store.db import Store
    from app.store.ingest import ingest_tables

    rng = np.random.default_rng([seed, run])
    t0 = datetime(2026, 4, 1, tzinfo=timezone.utc).timestamp() + run * 3 * 86400.0
    specs, t1 = _specs(rng, t0, per_run)
    world = generate(InjectedIncidents(t0, t1, seed + run, specs), t0, t1, seed=seed + run, scale=scale)
    twin_scn = InjectedIncidents(t0, t1, seed + run, specs, strength=0.0)
    twin = generate(twin_scn, t0, t1, seed=seed + run, scale=scale, flows={s.flow for s in specs})
    tables = world.as_of(t1 + 7 * 86400.0)  # every label and resolution known
    path = scratch / f"roi-{run}.duckdb"
    path.unlink(missing_ok=True)
    out = []
    with Store(path) as store:
        for kind, table in tables.items():
            ingest_tables(store, kind, [(kind, table)], source="bench")
        ids = []
        for sp in specs:
            start = datetime.fromtimestamp(sp.start, tz=timezone.utc).replace(tzinfo=None)
            ids.append(log_incident(store, title=f"injected {sp.flow} -{sp.depth:.0%}", flows=[sp.flow], features=[],
                                    start=start, end=start + timedelta(seconds=sp.length),
                                    detect_after=timedelta(minutes=10), ack_after=timedelta(minutes=5)))
        now = datetime.fromtimestamp(t1, tz=timezone.utc).replace(tzinfo=None)
        for sp, iid in zip(specs, ids):
            inc = incidents.get(store, iid)
            t = time.perf_counter()
            imp = roi.estimate_incident(store, inc, now=now)
            seconds = time.perf_counter() - t
            s_utc, e_utc = imp.start.replace(tzinfo=timezone.utc), imp.end.replace(tzinfo=timezone.utc)
            cf_n, cf_usd = _window_sums(twin.tables["funnel"], sp.flow, s_utc, e_utc)
            ac_n, ac_usd = _window_sums(world.tables["funnel"], sp.flow, s_utc, e_utc)
            take = imp.assumptions.take_rate
            est, lo, hi = imp.lost_revenue
            mean_amount = m.FLOW_BY_NAME[sp.flow].amount_median_usd * float(np.exp(0.9 ** 2 / 2))
            e_cf = expected_completions(twin_scn, sp.flow, s_utc.timestamp(), e_utc.timestamp(), scale)
            oracle = (e_cf - ac_n) * mean_amount * take
            out.append(Result(run=run, flow=sp.flow, scale=scale, hours=imp.hours, depth=sp.depth,
                              truth_usd=(cf_usd - ac_usd) * take, estimate_usd=est, lower_usd=lo, upper_usd=hi,
                              truth_conv=cf_n - ac_n, estimate_conv=imp.cf.lost, lower_conv=imp.cf.lost_lower,
                              upper_conv=imp.cf.lost_upper, seconds=seconds, controls=len(imp.cf.controls),
                              avg_value=imp.assumptions.avg_value_usd, oracle_usd=oracle))
    path.unlink(missing_ok=True)
    return out


def bench_roi(*, incidents: int, per_run: int, seed: int, scratch: Path, workers: int = 2) -> list[Result]:
    """Runs of `per_run` incidents each, two at a time (each run is its own process and store)."""
    from concurrent.futures import ProcessPoolExecutor
    runs = -(-incidents // per_run)
    sizes = [min(per_run, incidents - r * per_run) for r in range(runs)]
    results: list[Result] = []
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_one, r, per_run=sizes[r], scale=SCALES[r % len(SCALES)], seed=seed,
                               scratch=scratch) for r in range(runs)]
        for r, f in enumerate(futures):
            results += f.result()
            print(f"  run {r + 1}/{runs}: {sizes[r]} incidents at scale {SCALES[r % len(SCALES)]:g} "
                  f"(done at {time.perf_counter() - t:.0f} s)", flush=True)
    return results


def report(results: list[Result]) -> None:
    print()
    print(f"{'run':>3} {'flow':17} {'scale':>5} {'hours':>6} {'depth':>6} {'true lost $':>12} {'estimate $':>12} "
          f"{'95% interval $':>23} {'error':>7} {'oracle':>7} {'in':>3} {'ms':>5}")
    for r in results:
        print(f"{r.run:>3} {r.flow:17} {r.scale:>5g} {r.hours:>6.1f} {r.depth:>6.0%} {r.truth_usd:>12,.0f} "
              f"{r.estimate_usd:>12,.0f} {r.lower_usd:>11,.0f}..{r.upper_usd:<11,.0f} {r.error:>7.1%} {r.oracle_error:>7.1%} "
              f"{'yes' if r.covered else 'no':>3} {r.seconds * 1000:>5.0f}")
    errors = np.array([r.error for r in results])
    cov = np.mean([r.covered for r in results])
    cov_c = np.mean([r.covered_conv for r in results])
    secs = np.array([r.seconds for r in results])
    print()
    print(f"incidents estimated:                    {len(results)}")
    print(f"median absolute error of lost revenue:  {np.nanmedian(errors):.1%}   (target < 10%)")
    print(f"  ... of an oracle that knows the expected counterfactual (the noise floor): "
          f"{np.nanmedian([r.oracle_error for r in results]):.1%}")
    print(f"95% intervals covering the true revenue: {cov:.0%}   (target 90%..98%)")
    print(f"  ... covering the true lost conversions: {cov_c:.0%}")
    print(f"time per estimate: median {np.median(secs) * 1000:.0f} ms, max {secs.max() * 1000:.0f} ms")
