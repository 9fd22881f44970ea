"""Large synthetic decision files for benchmarks (fast, vectorised, seeded)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.sim import model as m
from app.sim.generator import _choice, _ids, _ts


def decisions(n: int, *, seed: int = 1, start: float = 1_761_955_200.0, days: float = 30.0) -> pa.Table:
    """n decision rows spread over `days` from `start` (epoch s), sorted by time."""
    rng = np.random.default_rng(seed)
    ts = np.sort(start + rng.uniform(0, days * 86400.0, n))
    flows = [f for f in m.FLOWS if f.feature]
    fi = rng.integers(0, len(flows), n)
    fraud = rng.random(n) < 0.02
    logit = rng.normal(np.where(fraud, 1.5, -2.054), 1.0)
    decision = np.where(logit > m.DECLINE_LOGIT, "decline", np.where(logit > m.REVIEW_LOGIT, "review", "approve"))
    labelled = rng.random(n) < 0.9
    pick = lambda attr: pa.array(np.array([getattr(f, attr) for f in flows], dtype=object)[fi].astype(str))
    return pa.table({
        "event_id": _ids(f"b{seed}-", n),
        "ts": _ts(ts),
        "flow": pick("flow"),
        "feature": pick("feature"),
        "model": pick("model"),
        "model_version": pick("version"),
        "decision": pa.array(decision.astype(str)),
        "score": pa.array(np.round(1 / (1 + np.exp(-logit)), 5)),
        "latency_ms": pa.array(np.round(rng.lognormal(np.log(40.0), 0.5, n), 2)),
        "is_fraud": pc.if_else(pa.array(labelled), pa.array(fraud), pa.scalar(None, pa.bool_())),
        "amount_usd": pa.array(np.round(rng.lognormal(np.log(300.0), 0.9, n), 2)),
        "platform": _choice(rng, m.PLATFORMS, n),
        "region": _choice(rng, m.REGIONS, n),
        "user_id": pc.binary_join_element_wise("u", pc.cast(pa.array(rng.integers(0, 500_000, n)), pa.string()), ""),
    })


def funnel(n: int, *, seed: int = 2, start: float = 1_761_955_200.0, days: float = 30.0) -> pa.Table:
    """n funnel events spread over `days` from `start`, about 9% of starts completing."""
    rng = np.random.default_rng(seed)
    ts = np.sort(start + rng.uniform(0, days * 86400.0, n))
    flows = np.array([f.flow for f in m.FLOWS])
    steps = np.array(["view", "start", "submit", "complete", "abandon"])
    step = steps[np.searchsorted(np.cumsum([0.5, 0.35, 0.05, 0.035, 0.065]), rng.random(n))]
    return pa.table({
        "event_id": _ids(f"f{seed}-", n), "ts": _ts(ts), "session_id": _ids(f"s{seed}-", n),
        "user_id": pc.binary_join_element_wise("u", pc.cast(pa.array(rng.integers(0, 500_000, n)), pa.string()), ""),
        "flow": pa.array(flows[rng.integers(0, len(flows), n)]), "step": pa.array(step),
        "platform": _choice(rng, m.PLATFORMS, n), "region": _choice(rng, m.REGIONS, n),
        "amount_usd": pa.array(np.round(rng.lognormal(np.log(300.0), 0.9, n), 2), mask=step != "complete"),
    })
