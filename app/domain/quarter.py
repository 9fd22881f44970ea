"""The executive view of a quarter: what its incidents cost, how fast they were handled,
and what each ML feature is worth (fraud it stopped against the conversions it cost)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from app import settings
from app.domain import incidents, roi
from app.store import roi as sql
from app.store.db import Store

_QUARTER = re.compile(r"^(\d{4})[-\s]?Q([1-4])$", re.IGNORECASE)


def parse_quarter(text: str) -> tuple[datetime, datetime]:
    """'2026Q3' -> (2026-07-01, 2026-10-01), naive UTC."""
    m = _QUARTER.match(text.strip())
    if not m:
        raise ValueError(f"quarter {text!r}: expected the form 2026Q3")
    year, q = int(m.group(1)), int(m.group(2))
    start = datetime(year, 3 * (q - 1) + 1, 1)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return start, end


def quarter_of(t: datetime) -> str:
    return f"{t.year}Q{(t.month - 1) // 3 + 1}"


def recent_quarters(now: datetime, n: int = 6) -> list[str]:
    out, y, q = [], now.year, (now.month - 1) // 3 + 1
    for _ in range(n):
        out.append(f"{y}Q{q}")
        y, q = (y - 1, 4) if q == 1 else (y, q - 1)
    return out


COLUMNS = ["id", "title", "severity", "status", "flow", "start", "end", "hours", "lost_conversions",
           "lost_revenue", "lost_revenue_lower", "lost_revenue_upper", "excess_tickets", "ticket_cost", "total_cost",
           "total_cost_lower", "total_cost_upper", "loss_per_hour", "value_per_hour_sooner", "time_to_detect_min",
           "time_to_acknowledge_min", "time_to_mitigate_min", "time_to_resolve_min", "time_to_toggle_min",
           "sentiment_change", "nps_change", "note"]


@dataclass
class QuarterSummary:
    quarter: str
    start: datetime
    end: datetime
    incidents: pd.DataFrame  # COLUMNS, ranked by total cost (highest first)
    impacts: dict[int, list[roi.Impact]]  # per incident, one impact per estimated flow

    @property
    def estimated(self) -> pd.DataFrame:
        return self.incidents[self.incidents["note"] == ""]

    @property
    def totals(self) -> dict:
        e = self.estimated
        hours = float(e["hours"].sum())
        total, lower, upper = _sum(list(zip(e["total_cost"], e["total_cost_lower"], e["total_cost_upper"])))
        return {"incidents": int(len(self.incidents)), "estimated": int(len(e)),
                "total_cost": total, "total_cost_lower": lower, "total_cost_upper": upper,
                "lost_revenue": float(e["lost_revenue"].sum()),
                "ticket_cost": float(e["ticket_cost"].sum()), "lost_conversions": float(e["lost_conversions"].sum()),
                "excess_tickets": float(e["excess_tickets"].sum()), "incident_hours": hours,
                "cost_per_hour": total / hours if hours else math.nan,
                "mttd_min": _mean(e["time_to_detect_min"]), "mtta_min": _mean(e["time_to_acknowledge_min"]),
                "mttm_min": _mean(e["time_to_mitigate_min"]), "mttr_min": _mean(e["time_to_resolve_min"])}

    def monthly(self) -> pd.DataFrame:
        """Mean time to detect / acknowledge / mitigate / resolve (minutes) and cost, per month of start."""
        df = self.incidents.copy()
        months = pd.period_range(self.start, self.end - pd.Timedelta(seconds=1), freq="M")
        df["month"] = pd.to_datetime(df["start"]).dt.to_period("M")
        g = df.groupby("month")
        out = pd.DataFrame({
            "incidents": g.size(), "mttd_min": g["time_to_detect_min"].mean(),
            "mtta_min": g["time_to_acknowledge_min"].mean(), "mttm_min": g["time_to_mitigate_min"].mean(),
            "mttr_min": g["time_to_resolve_min"].mean(), "total_cost": g["total_cost"].sum(min_count=1)},
        ).reindex(months)
        out["incidents"] = out["incidents"].fillna(0).astype(int)
        out.index = out.index.astype(str)
        return out.rename_axis("month").reset_index()


def _mean(s: pd.Series) -> float:
    s = s.dropna()
    return float(s.mean()) if len(s) else math.nan


def _sum(parts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Estimates add; independent intervals' half-widths add in quadrature."""
    est = sum(p[0] for p in parts)
    return (est, est - math.sqrt(sum((p[0] - p[1]) ** 2 for p in parts)),
            est + math.sqrt(sum((p[2] - p[0]) ** 2 for p in parts)))


def _row(inc: dict, imps: list[roi.Impact], note: str, *, now: datetime) -> dict:
    """One incident: its flows' impacts summed (recovery and sentiment from its first estimated flow)."""
    row = {c: math.nan for c in COLUMNS}
    start, _ = roi.incident_window(inc, now=now)
    row.update(id=int(inc["id"]), title=inc["title"], severity=inc["severity"], status=inc["status"],
               flow=", ".join(inc["flows"]), start=start, end=inc.get("resolved_at"), note=note)
    if not imps:
        return row
    first = imps[0]
    rev = _sum([i.lost_revenue for i in imps])
    tc = _sum([i.ticket_cost for i in imps])
    total = _sum([i.total_cost for i in imps])
    rec = first.recovery_minutes()
    row.update(end=first.end, hours=first.hours, lost_conversions=sum(i.cf.lost for i in imps), lost_revenue=rev[0],
               lost_revenue_lower=rev[1], lost_revenue_upper=rev[2],
               excess_tickets=sum(i.tickets["excess"] for i in imps), ticket_cost=tc[0], total_cost=total[0],
               total_cost_lower=total[1], total_cost_upper=total[2],
               loss_per_hour=rev[0] / first.hours if first.hours else math.nan,
               value_per_hour_sooner=sum(i.value_per_hour_sooner for i in imps),
               time_to_detect_min=rec.get("time_to_detect"), time_to_acknowledge_min=rec.get("time_to_acknowledge"),
               time_to_mitigate_min=rec.get("time_to_mitigate"), time_to_resolve_min=rec.get("time_to_resolve"),
               time_to_toggle_min=rec.get("time_to_toggle"),
               sentiment_change=first.sentiment["change"]["mean_score"], nps_change=first.sentiment["change"]["nps"])
    return row


def summarize(store: Store, quarter: str, *, now: datetime, draws: int = roi.DRAWS) -> QuarterSummary:
    """Every incident that began in the quarter, estimated, ranked by cost."""
    start, end = parse_quarter(quarter)
    return summarize_period(store, start=start, end=end, now=now, label=quarter, draws=draws)


def summarize_period(store: Store, *, start: datetime, end: datetime, now: datetime, label: str,
                     draws: int = roi.DRAWS) -> QuarterSummary:
    rows, impacts = [], {}
    for iid in sql.incidents_started_between(store, start=start, end=end)["id"]:
        inc = incidents.get(store, int(iid))
        imps, problems = [], []
        for flow in inc["flows"]:
            try:
                imps.append(roi.estimate_incident(store, inc, now=now, flow=flow, draws=draws))
            except (roi.RoiError, ValueError) as exc:  # ValueError: a window past the query limits
                problems.append(f"{flow}: {exc}")
        if imps:
            impacts[int(iid)] = imps
        rows.append(_row(inc, imps, "; ".join(problems) if not imps else "", now=now))
    df = pd.DataFrame(rows, columns=COLUMNS)
    if len(df):
        df = df.sort_values("total_cost", ascending=False, na_position="last").reset_index(drop=True)
    return QuarterSummary(quarter=label, start=start, end=end, incidents=df, impacts=impacts)


def measured_baseline(store: Store, *, now: datetime, days: float = 365.0, draws: int = 500):
    """The budget planner's drivers, from the incidents of the last `days` (or of all the data, if shorter)."""
    from datetime import timedelta

    from app.domain import budget
    first, last = sql.data_span(store)
    if first is None:
        return budget.DEFAULT_BASELINE
    end = min(now, last + timedelta(minutes=1))
    start = max(first, end - timedelta(days=days))
    period = summarize_period(store, start=start, end=end, now=now, label="last year", draws=draws)
    return budget.measured_baseline(period.incidents, period.impacts, days=(end - start).total_seconds() / 86400.0)


# --------------------------------------------------------------------------- model value


def model_value(store: Store, *, start: datetime, end: datetime, fp_lost_share: float | None = None) -> pd.DataFrame:
    """Per ML feature: fraud losses prevented against what its false positives cost, and the net.

    prevented = amount of labelled-fraud sessions the model declined or held for review;
    false-positive cost = legitimate users flagged x the share of them who do not complete
    (WARROOM_FP_LOST_SHARE) x the flow's average value x its take rate.
    """
    share = float(settings.get("fp_lost_share") if fp_lost_share is None else fp_lost_share)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the share of flagged legitimate users lost must be within 0..1, not {share}")
    sums = sql.feature_value_sums(store, start=start, end=end)
    volume = sql.flow_completed(store, start=start, end=end).set_index("flow")
    rows = []
    for r in sums.itertuples():
        n_c = float(volume["n_complete"].get(r.flow, 0)) if len(volume) else 0.0
        usd = float(volume["completed_usd"].get(r.flow, 0.0)) if len(volume) else 0.0
        a = roi.assumptions_for(r.flow, measured_avg_value=usd / n_c if n_c else 0.0)
        lost = r.n_false_positive * share
        fp_cost = lost * a.avg_value_usd * a.take_rate
        rows.append({"feature": r.feature, "flow": r.flow, "decisions": int(r.n), "labelled": int(r.n_labeled),
                     "fraud_caught": int(r.n_fraud_caught), "fraud_prevented_usd": float(r.fraud_amount_caught),
                     "false_positives": int(r.n_false_positive), "lost_conversions": lost,
                     "avg_value_usd": a.avg_value_usd, "take_rate": a.take_rate, "false_positive_cost_usd": fp_cost,
                     "net_value_usd": float(r.fraud_amount_caught) - fp_cost,
                     "note": "" if r.n_labeled else "no fraud labels: its value is not measured here"})
    return pd.DataFrame(rows, columns=["feature", "flow", "decisions", "labelled", "fraud_caught",
                                       "fraud_prevented_usd", "false_positives", "lost_conversions", "avg_value_usd",
                                       "take_rate", "false_positive_cost_usd", "net_value_usd", "note"])


def model_value_totals(value: pd.DataFrame) -> dict[str, float]:
    """Net value, fraud prevented, false-positive cost and lost conversions over the labelled features."""
    labelled = value[value["labelled"] > 0]
    return {"net_value_usd": float(labelled["net_value_usd"].sum()),
            "fraud_prevented_usd": float(labelled["fraud_prevented_usd"].sum()),
            "false_positive_cost_usd": float(labelled["false_positive_cost_usd"].sum()),
            "lost_conversions": float(labelled["lost_conversions"].sum())}
