"""The simulated platform: flows, ML features and how users move through them.

Pure numbers and small functions; `generator.py` turns them into events and
`scenarios.py` bends them to re-enact real incidents.

How a session goes: view -> start (p_start) -> submit (p_submit) -> the flow's
ML feature decides (approve | review | decline) -> complete (probability by
decision) or abandon. Conversion (complete / start) is p_submit times the
completion probability after the decision, so each flow's p_submit is derived
from its target conversion (deposit about 9%).

The fraud model scores a session with logit ~ Normal(mu, 1): legitimate users
around `mu_legit`, fraudsters around `mu_fraud`. A logit above 0 (score 0.5) is
sent to review, above 0.85 (score 0.7) is declined. So the false-positive rate
is Phi(mu_legit), and a scenario raises it by shifting mu_legit (data drift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REVIEW_LOGIT = 0.0
DECLINE_LOGIT = 0.85
P_COMPLETE = {"approve": 0.90, "review": 0.35, "decline": 0.0}
# A session that starts and does not submit abandons explicitly this often
# (the others just leave); one that submits and does not complete always does.
P_ABANDON_UNSUBMITTED = 0.3

PLATFORMS = (("web", 0.45), ("ios", 0.30), ("android", 0.25))
REGIONS = (("eu", 0.35), ("us", 0.30), ("latam", 0.15), ("apac", 0.20))


@dataclass(frozen=True)
class FlowModel:
    flow: str
    views_per_min: float  # mean over a day, before seasonality and volatility
    p_start: float
    conversion: float  # target complete / start in calm conditions
    amount_median_usd: float
    feature: str | None = None
    model: str | None = None
    version: str | None = None
    fallback: str = "manual_review"
    mu_legit: float = -2.054  # Phi(-2.054) = 2% false positives
    mu_fraud: float = 1.5
    fraud_share: float = 0.01  # of submitted sessions, at calm volatility
    labelled: bool = True  # fraud ground truth exists for this feature
    latency_median_ms: float = 35.0
    tickets_per_min: float = 0.02
    surveys_per_min: float = 0.01


FLOWS: tuple[FlowModel, ...] = (
    FlowModel("deposit", 80.0, 0.70, 0.09, 250.0, "deposit_fraud_check", "deposit-fraud-gbm",
              "2026.11.2", "manual_review", fraud_share=0.01, tickets_per_min=0.04, surveys_per_min=0.015),
    FlowModel("withdrawal", 15.0, 0.80, 0.55, 400.0, "withdrawal_risk_score", "withdrawal-risk-xgb",
              "3.4.0", "rules", mu_legit=-2.054, fraud_share=0.02, latency_median_ms=45.0,
              tickets_per_min=0.03, surveys_per_min=0.008),
    FlowModel("trade", 10.0, 0.50, 0.25, 900.0, "personalised_ranking", "home-ranker", "r12",
              "allow_then_review", fraud_share=0.0, labelled=False, latency_median_ms=20.0,
              tickets_per_min=0.02, surveys_per_min=0.008),
    FlowModel("loan_application", 5.0, 0.50, 0.30, 5000.0, "loan_credit_model", "credit-lgbm", "1.8.0",
              "manual_review", mu_legit=-1.75, fraud_share=0.03, latency_median_ms=120.0,
              tickets_per_min=0.01, surveys_per_min=0.004),
    FlowModel("signup", 5.0, 0.60, 0.45, 0.0, tickets_per_min=0.01, surveys_per_min=0.004),
)
FLOW_BY_NAME = {f.flow: f for f in FLOWS}


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def phi_inv(p: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if phi(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def decision_probs(mu: float) -> tuple[float, float, float]:
    """(approve, review, decline) probabilities for logit ~ N(mu, 1)."""
    flagged = phi(mu - REVIEW_LOGIT)
    decline = phi(mu - DECLINE_LOGIT)
    return 1.0 - flagged, flagged - decline, decline


def completion_after_submit(fm: FlowModel, mu_legit: float, fraud_share: float) -> float:
    if fm.feature is None or not fm.labelled:
        return P_COMPLETE["approve"]
    total = 0.0
    for mu, share in ((mu_legit, 1.0 - fraud_share), (fm.mu_fraud, fraud_share)):
        a, r, d = decision_probs(mu)
        total += share * (a * P_COMPLETE["approve"] + r * P_COMPLETE["review"])
    return total


def base_p_submit(fm: FlowModel) -> float:
    return min(1.0, fm.conversion / completion_after_submit(fm, fm.mu_legit, fm.fraud_share))
