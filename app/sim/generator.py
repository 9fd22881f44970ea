"""Turns the simulated platform and a scenario into the five input kinds.

Deterministic for a seed: each day (batch) or tick (live) of each flow draws
from its own generator seeded by (seed, chunk, flow), so the same arguments give
the same rows. Columns that become known later (a decision's fraud label, a
ticket's resolution) are generated with the row and hidden by `as_of`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.sim import model as m
from app.sim.scenarios import DAY, HOUR, Scenario, get_scenario

KINDS = ("decisions", "funnel", "tickets", "surveys", "metrics")
TS = pa.timestamp("us", tz="UTC")
LABEL_MEAN_S = {False: 30 * 60.0, True: 2 * HOUR}  # legit labels come fast, fraud (chargebacks) slower
COMMENTS = {
    "low": ["My deposit was declined for no reason", "Why is my account under review?",
            "Third time my transfer got blocked", "Support takes forever", "Confusing error screen"],
    "mid": ["Took longer than expected", "Verification step was annoying", "OK but slow"],
    "high": ["Fast and easy", "Smooth as always", "Great app", "Deposit arrived instantly"],
}


@dataclass
class Generated:
    """Tables of the five kinds plus hidden truth columns (`label_at`, resolution)."""
    tables: dict[str, pa.Table]

    def as_of(self, t: float) -> dict[str, pa.Table]:
        """What a system would know at time t: no events after it, late facts hidden."""
        cut = _ts_scalar(t)
        out = {}
        for kind, table in self.tables.items():
            ts_col = "opened_at" if kind == "tickets" else "ts"
            table = table.filter(pc.less(table[ts_col], cut))
            if kind == "decisions":
                known = pc.less(table["label_at"], cut)
                table = table.set_column(table.schema.get_field_index("is_fraud"), "is_fraud",
                                         pc.if_else(known, table["is_fraud"], pa.scalar(None, pa.bool_())))
                table = table.drop(["label_at"])
            if kind == "tickets":
                resolved = pc.less(table["resolved_at"], cut)
                table = table.set_column(table.schema.get_field_index("resolved_at"), "resolved_at",
                                         pc.if_else(resolved, table["resolved_at"], pa.scalar(None, TS)))
            out[kind] = table
        return out


def _ts_scalar(t: float) -> pa.Scalar:
    return pa.scalar(int(round(t * 1e6)), pa.int64()).cast(TS)


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.round(np.asarray(seconds) * 1e6).astype(np.int64)).cast(TS)


def _ids(prefix: str, n: int, suffix: str = "") -> pa.Array:
    nums = pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, nums, suffix, "")


def _choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> pa.Array:
    names = [o for o, _ in options]
    p = np.array([w for _, w in options])
    idx = rng.choice(len(names), size=n, p=p / p.sum())
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(names)).cast(pa.string())


def _flow_chunk(scn: Scenario, fm: m.FlowModel, slots: np.ndarray, slot_len: float,
                rng: np.random.Generator, scale: float, key: str) -> dict[str, pa.Table]:
    mods = scn.mods(fm, slots + slot_len / 2)
    lam = fm.views_per_min * scale * mods.traffic_mult * (slot_len / 60.0)
    counts = rng.poisson(lam)
    n = int(counts.sum())
    si = np.repeat(np.arange(len(slots)), counts)
    t_view = slots[si] + rng.uniform(0, slot_len, n)
    started = rng.random(n) < fm.p_start
    p_sub = np.clip(m.base_p_submit(fm) * mods.submit_mult[si], 0.0, 1.0)
    submitted = started & (rng.random(n) < p_sub)
    t_start = t_view + rng.exponential(20.0, n)
    t_submit = t_start + rng.exponential(90.0, n)
    platform = _choice(rng, m.PLATFORMS, n)
    region = _choice(rng, m.REGIONS, n)
    users = pc.binary_join_element_wise("u", pc.cast(pa.array(rng.integers(0, 200_000, n)), pa.string()), "")
    amount = np.round(rng.lognormal(np.log(max(fm.amount_median_usd, 1.0)), 0.9, n), 2)
    sessions = _ids(f"{key}-{fm.flow[:3]}-", n)

    decision = np.full(n, "approve", dtype=object)
    t_decision = t_submit.copy()
    out: dict[str, pa.Table] = {}
    if fm.feature:
        inc = next((i for i in scn.incidents if i.bad_version and fm.feature in i.features), None)
        fraud = rng.random(n) < np.clip(fm.fraud_share * mods.fraud_mult[si], 0.0, 0.5)
        # The version in service when the decision is made (a rollback cuts at decision time).
        bad = (rng.random(n) < scn.bad_share(fm, t_submit)) if inc else np.zeros(n, dtype=bool)
        mu = np.where(fraud, fm.mu_fraud, mods.mu_legit[si])
        logit = rng.normal(mu, 1.0)
        dec_thr = np.where(bad, inc.bad_decline_logit if inc else m.DECLINE_LOGIT, m.DECLINE_LOGIT)
        decision = np.where(logit > dec_thr, "decline", np.where(logit > m.REVIEW_LOGIT, "review", "approve"))
        if not fm.labelled:  # a ranking model scores, it does not block
            decision = np.full(n, "approve", dtype=object)
        lat_mult = np.where(bad, inc.latency_mult if inc else 1.0, 1.0)
        latency = np.round(rng.lognormal(np.log(fm.latency_median_ms * lat_mult), 0.5), 2)
        t_decision = t_submit + latency / 1000.0
        delay = rng.exponential(np.where(fraud, LABEL_MEAN_S[True], LABEL_MEAN_S[False]))
        version = np.where(bad, inc.bad_version if inc else fm.version, fm.version)
        d = submitted
        nd = int(d.sum())
        out["decisions"] = pa.table({
            "event_id": pc.binary_join_element_wise(sessions.filter(pa.array(d)), "-d", ""),
            "ts": _ts(t_decision[d]),
            "flow": pa.array([fm.flow] * nd, pa.string()),
            "feature": pa.array([fm.feature] * nd, pa.string()),
            "model": pa.array([fm.model] * nd, pa.string()),
            "model_version": pa.array(version[d].astype(str), pa.string()),
            "decision": pa.array(decision[d].astype(str), pa.string()),
            "score": pa.array(np.round(1.0 / (1.0 + np.exp(-logit[d])), 5)),
            "latency_ms": pa.array(latency[d]),
            "is_fraud": pa.array(fraud[d]) if fm.labelled else pa.nulls(nd, pa.bool_()),
            "amount_usd": pa.array(amount[d]),
            "platform": platform.filter(pa.array(d)),
            "region": region.filter(pa.array(d)),
            "user_id": users.filter(pa.array(d)),
            "label_at": _ts(t_decision[d] + delay[d]),
        })
    p_complete = np.select([decision == "approve", decision == "review"],
                           [m.P_COMPLETE["approve"], m.P_COMPLETE["review"]], 0.0)
    completed = submitted & (rng.random(n) < p_complete)
    t_complete = t_decision + rng.exponential(30.0, n)
    abandon = (submitted & ~completed) | (started & ~submitted & (rng.random(n) < m.P_ABANDON_UNSUBMITTED))
    t_abandon = np.where(submitted, t_decision + rng.exponential(60.0, n), t_start + rng.exponential(120.0, n))
    has_amount = fm.amount_median_usd > 0
    parts = []
    for step, mask, t, with_amount in (("view", np.ones(n, dtype=bool), t_view, False),
                                       ("start", started, t_start, False),
                                       ("submit", submitted, t_submit, has_amount),
                                       ("complete", completed, t_complete, has_amount),
                                       ("abandon", abandon, t_abandon, False)):
        k = int(mask.sum())
        pm = pa.array(mask)
        parts.append(pa.table({
            "event_id": pc.binary_join_element_wise(sessions.filter(pm), "-" + step, ""),
            "ts": _ts(t[mask]),
            "session_id": sessions.filter(pm),
            "user_id": users.filter(pm),
            "flow": pa.array([fm.flow] * k, pa.string()),
            "step": pa.array([step] * k, pa.string()),
            "platform": platform.filter(pm),
            "region": region.filter(pm),
            "amount_usd": pa.array(amount[mask]) if with_amount else pa.nulls(k, pa.float64()),
        }))
    out["funnel"] = pa.concat_tables(parts)

    # Support tickets and survey responses for this flow.
    lam_t = fm.tickets_per_min * scale * mods.ticket_mult * (slot_len / 60.0)
    ct = rng.poisson(lam_t)
    nt = int(ct.sum())
    ti = np.repeat(np.arange(len(slots)), ct)
    opened = slots[ti] + rng.uniform(0, slot_len, nt)
    sev = mods.severity[ti]
    cats = np.array(["declined_transaction", "verification", "account_access", "other"])
    u = rng.random(nt)
    p_decl = 0.2 + 0.55 * sev
    p_ver = p_decl + 0.2 + 0.1 * sev
    p_acc = p_ver + 0.2 * (1 - sev)
    cat = cats[np.select([u < p_decl, u < p_ver, u < p_acc], [0, 1, 2], 3)]
    resolution = rng.lognormal(np.log(3 * HOUR * (1 + 2 * sev)), 0.8)
    out["tickets"] = pa.table({
        "ticket_id": _ids(f"t{key}-{fm.flow[:3]}-", nt),
        "opened_at": _ts(opened),
        "resolved_at": _ts(opened + resolution),
        "flow": pa.array([fm.flow] * nt, pa.string()),
        "category": pa.array(cat.astype(str), pa.string()),
        "channel": _choice(rng, (("chat", 0.5), ("email", 0.3), ("in_app", 0.2)), nt),
    })
    lam_s = fm.surveys_per_min * scale * mods.traffic_mult * (slot_len / 60.0)
    cs = rng.poisson(lam_s)
    ns = int(cs.sum())
    sj = np.repeat(np.arange(len(slots)), cs)
    score = np.clip(np.round(rng.normal(8.3 + mods.survey_shift[sj], 1.5)), 0, 10).astype(np.int64)
    bucket = np.where(score <= 6, "low", np.where(score <= 8, "mid", "high"))
    comment = [None if r < 0.6 else COMMENTS[b][int(r * 1000) % len(COMMENTS[b])]
               for b, r in zip(bucket, rng.random(ns))]
    out["surveys"] = pa.table({
        "response_id": _ids(f"s{key}-{fm.flow[:3]}-", ns),
        "ts": _ts(slots[sj] + rng.uniform(0, slot_len, ns)),
        "flow": pa.array([fm.flow] * ns, pa.string()),
        "score": pa.array(score),
        "comment": pa.array(comment, pa.string()),
        "source": _choice(rng, (("zigpoll", 0.7), ("intercom", 0.3)), ns),
    })
    return out


def _metrics_chunk(scn: Scenario, slots: np.ndarray, slot_len: float, rng: np.random.Generator) -> pa.Table:
    t = slots + slot_len / 2
    vol = scn.volatility(t)
    p95 = np.round(180.0 * (1 + 0.3 * (vol - 1)) * rng.lognormal(0, 0.05, len(t)), 2)
    k = len(t)
    return pa.table({
        "ts": _ts(np.concatenate([slots, slots])),
        "name": pa.array(["market_volatility_index"] * k + ["gateway_latency_p95_ms"] * k, pa.string()),
        "value": pa.array(np.concatenate([np.round(vol, 4), p95])),
        "labels": pa.array(['{"source":"sim"}'] * k + ['{"service":"gateway"}'] * k, pa.string()),
    })


def generate(scn: Scenario, t0: float, t1: float, *, seed: int, scale: float = 1.0,
             slot_len: float = 60.0, chunk_len: float = DAY, flows: set[str] | None = None) -> Generated:
    """All events whose session begins in [t0, t1), in chunks of chunk_len (only `flows`' when given;
    the other flows' rows are the same either way, each flow drawing from its own generator)."""
    acc: dict[str, list[pa.Table]] = {k: [] for k in KINDS}
    c0 = t0
    while c0 < t1:
        c1 = min(t1, c0 + chunk_len)
        slots = np.arange(c0, c1, slot_len, dtype=float)
        key = f"{int(c0)}"
        for fi, fm in enumerate(m.FLOWS):
            if flows is not None and fm.flow not in flows:
                continue
            rng = np.random.default_rng([seed, int(c0), fi])
            for kind, table in _flow_chunk(scn, fm, slots, slot_len, rng, scale, key).items():
                acc[kind].append(table)
        acc["metrics"].append(_metrics_chunk(scn, slots, slot_len, np.random.default_rng([seed, int(c0), 99])))
        c0 = c1
    tables = {}
    for kind in KINDS:
        table = pa.concat_tables(acc[kind]) if acc[kind] else pa.table({})
        ts_col = "opened_at" if kind == "tickets" else "ts"
        if table.num_rows:
            table = table.sort_by(ts_col)
        tables[kind] = table
    return Generated(tables)


def truth(scn: Scenario, *, seed: int, scale: float) -> dict:
    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")

    return {
        "scenario": scn.name,
        "description": scn.description,
        "seed": seed,
        "scale": scale,
        "start": iso(scn.start),
        "end": iso(scn.end),
        "calm_baselines": {
            fm.flow: {"conversion": fm.conversion,
                      **({"false_positive_rate": round(m.phi(fm.mu_legit), 4),
                          "feature": fm.feature, "model": fm.model, "model_version": fm.version}
                         if fm.feature and fm.labelled else {})}
            for fm in m.FLOWS
        },
        "incidents": [
            {"key": i.key, "title": i.title, "start": iso(i.start), "end": iso(i.end), "ongoing": i.ongoing,
             "flows": i.flows, "features": i.features, "effects": i.effects}
            for i in scn.incidents
        ],
    }


def simulate(scenario: str, start: datetime, days: float, *, seed: int,
             scale: float = 1.0) -> tuple[dict[str, pa.Table], dict]:
    """The five kinds as known at the end of the period, and the ground truth."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    t0 = start.timestamp()
    t1 = t0 + days * DAY
    scn = get_scenario(scenario, t0, t1, seed)
    gen = generate(scn, t0, t1, seed=seed, scale=scale)
    return gen.as_of(t1), truth(scn, seed=seed, scale=scale)


def write_truth(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
