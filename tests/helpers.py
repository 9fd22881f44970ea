"""Small builders for hand-made input files."""

from __future__ import annotations

import csv
from pathlib import Path

DECISION_COLS = ["event_id", "ts", "flow", "feature", "model", "model_version", "decision", "score",
                 "latency_ms", "is_fraud", "amount_usd", "platform", "region", "user_id"]
FUNNEL_COLS = ["event_id", "ts", "session_id", "user_id", "flow", "step", "platform", "region", "amount_usd"]


def decision(i: int, **kw) -> dict:
    row = {"event_id": f"e{i}", "ts": f"2026-11-02T10:{i % 60:02d}:00Z", "flow": "deposit",
           "feature": "deposit_fraud_check", "model": "m", "model_version": "v1", "decision": "approve",
           "score": "0.1", "latency_ms": "40", "is_fraud": "false", "amount_usd": "100", "platform": "web",
           "region": "eu", "user_id": f"u{i}"}
    row.update(kw)
    return row


def write_csv(path: Path, rows: list[dict], cols: list[str] | None = None) -> Path:
    cols = cols or list(rows[0].keys())
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def snapshot(store) -> dict:
    """Every table's full contents, to compare a store before and after."""
    out = {}
    for (name,) in store.fetchall("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = 'main' ORDER BY 1"):
        out[name] = sorted(map(repr, store.fetchall(f"SELECT * FROM {name}")))
    return out
