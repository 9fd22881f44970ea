"""The five input kinds: their columns, types, units and allowed values.

This is the single source for validation (store/ingest.py) and for the README's
"Input kinds" tables (a test checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app import settings

DECISIONS = ("approve", "decline", "review")
PLATFORMS = ("web", "ios", "android")
STEPS = ("view", "start", "submit", "complete", "abandon")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # id | ts | str | enum | float | int | bool | json | text
    required: bool = True
    allowed: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_len: int = 200
    doc: str = ""


@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[Column, ...]
    id_column: str | None
    # Columns that a later row with the same id may fill in or correct
    # (a fraud label that arrives late, a ticket that gets resolved).
    updatable: tuple[str, ...] = ()
    ts_column: str = "ts"
    checks: tuple[tuple[str, str, str], ...] = field(default=())  # (column, failing SQL, rule)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _ts(name: str, required: bool = True, doc: str = "") -> Column:
    return Column(name, "ts", required=required,
                  doc=doc or "ISO-8601 with an offset (`2026-12-04T09:30:00+01:00` or `...Z`); stored as UTC")


def kinds() -> dict[str, Kind]:
    flows = tuple(settings.get("flows"))
    flow = Column("flow", "enum", allowed=flows, doc="the user flow (setting `WARROOM_FLOWS`)")
    platform = Column("platform", "enum", allowed=PLATFORMS, doc="client platform")
    region = Column("region", "str", max_len=64, doc="market or region code, e.g. `eu`, `us`, `latam`, `apac`")
    return {
        "decisions": Kind(
            "decisions",
            (
                Column("event_id", "id", max_len=128, doc="unique per decision; a repeat is a duplicate or a label update"),
                _ts("ts", doc="when the model decided; ISO-8601 with offset, stored as UTC"),
                flow,
                Column("feature", "str", max_len=64, doc="the ML-powered feature, e.g. `deposit_fraud_check`"),
                Column("model", "str", max_len=64, doc="model name"),
                Column("model_version", "str", max_len=64, doc="model version that made the decision"),
                Column("decision", "enum", allowed=DECISIONS, doc="what the model decided"),
                Column("score", "float", min=0.0, max=1.0, doc="model score, 0..1 (higher = riskier)"),
                Column("latency_ms", "float", min=0.0, max=600000.0, doc="model latency in milliseconds"),
                Column("is_fraud", "bool", required=False,
                       doc="ground truth: `true`, `false`, or empty until known; a later row with the same `event_id` sets it"),
                Column("amount_usd", "float", required=False, min=0.0, max=1e12, doc="transaction amount in US dollars; empty if none"),
                platform,
                region,
                Column("user_id", "id", max_len=128, doc="pseudonymous user id"),
            ),
            id_column="event_id",
            updatable=("is_fraud",),
        ),
        "funnel": Kind(
            "funnel",
            (
                Column("event_id", "id", max_len=128, doc="unique per frontend event"),
                _ts("ts"),
                Column("session_id", "id", max_len=128, doc="one session through one flow"),
                Column("user_id", "id", max_len=128, doc="pseudonymous user id"),
                flow,
                Column("step", "enum", allowed=STEPS, doc="funnel step; send one event per session and step"),
                platform,
                region,
                Column("amount_usd", "float", required=False, min=0.0, max=1e12, doc="amount in US dollars (on `complete`); empty if none"),
            ),
            id_column="event_id",
        ),
        "tickets": Kind(
            "tickets",
            (
                Column("ticket_id", "id", max_len=128, doc="unique per support ticket"),
                _ts("opened_at", doc="when the ticket was opened; ISO-8601 with offset"),
                _ts("resolved_at", required=False,
                    doc="when it was resolved; empty while open; a later row with the same `ticket_id` sets it"),
                flow,
                Column("category", "str", max_len=64, doc="e.g. `declined_transaction`, `verification`, `account_access`, `other`"),
                Column("channel", "str", max_len=64, doc="e.g. `chat`, `email`, `in_app`, `phone`"),
            ),
            id_column="ticket_id",
            updatable=("resolved_at",),
            ts_column="opened_at",
            checks=(("resolved_at", '"resolved_at" IS NOT NULL AND "resolved_at" < "opened_at"',
                     "resolved_at is before opened_at"),),
        ),
        "surveys": Kind(
            "surveys",
            (
                Column("response_id", "id", max_len=128, doc="unique per survey response"),
                _ts("ts"),
                flow,
                Column("score", "int", min=0, max=10, doc="0..10 (NPS scale: 9-10 promoter, 0-6 detractor)"),
                Column("comment", "text", required=False, max_len=5000, doc="free text, may be empty"),
                Column("source", "str", max_len=64, doc="e.g. `zigpoll`, `intercom`"),
            ),
            id_column="response_id",
        ),
        "metrics": Kind(
            "metrics",
            (
                _ts("ts"),
                Column("name", "str", max_len=200, doc="series name, e.g. `http_request_duration_p95`"),
                Column("value", "float", doc="the value (finite number)"),
                Column("labels", "json", required=False, max_len=4000,
                       doc='JSON object of string labels, e.g. `{"service":"api"}`; empty means `{}`'),
            ),
            id_column=None,  # a point is identified by (name, labels, ts)
        ),
    }


def get_kind(name: str) -> Kind:
    all_kinds = kinds()
    if name not in all_kinds:
        raise KeyError(f"unknown kind {name!r}; expected one of: {', '.join(all_kinds)}")
    return all_kinds[name]
