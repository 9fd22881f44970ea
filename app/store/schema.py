"""Table definitions and forward migrations.

Each migration is (version, name, statements). `db.Store` applies, in order and
each in its own transaction, every migration whose version is above the store's.
Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

# Latency histogram bucket upper edges in milliseconds (the last bucket is open).
# Rollups store one count per bucket so latency percentiles over any window are
# a sum of minutes, not a scan of raw events.
LATENCY_EDGES_MS: tuple[float, ...] = (
    5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 750,
    1000, 1500, 2000, 3000, 5000, 10000,
)
N_LATENCY_BUCKETS = len(LATENCY_EDGES_MS) + 1
# Model-score histogram: ten equal buckets over [0, 1] (1.0 falls in the last).
N_SCORE_BUCKETS = 10

LAT_COLS = [f"lat_h{i:02d}" for i in range(N_LATENCY_BUCKETS)]
SCORE_COLS = [f"score_h{i}" for i in range(N_SCORE_BUCKETS)]


# Sums in rollups are DECIMAL so that they are exact and independent of the
# order a parallel aggregate adds rows in (amounts at cent precision, scores to
# 1e-6, latencies to the microsecond): a recompute from raw equals them exactly.


def _counts(cols: list[str]) -> str:
    return ",\n".join(f"    {c} BIGINT NOT NULL" for c in cols)


_V1 = [
    # ---- raw input kinds (documented in README "Input kinds") -------------
    """CREATE TABLE decisions (
    event_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, flow VARCHAR NOT NULL,
    feature VARCHAR NOT NULL, model VARCHAR NOT NULL, model_version VARCHAR NOT NULL,
    decision VARCHAR NOT NULL, score DOUBLE NOT NULL, latency_ms DOUBLE NOT NULL,
    is_fraud BOOLEAN, amount_usd DOUBLE, platform VARCHAR NOT NULL,
    region VARCHAR NOT NULL, user_id VARCHAR NOT NULL)""",
    """CREATE TABLE funnel (
    event_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, session_id VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL, flow VARCHAR NOT NULL, step VARCHAR NOT NULL,
    platform VARCHAR NOT NULL, region VARCHAR NOT NULL, amount_usd DOUBLE)""",
    """CREATE TABLE tickets (
    ticket_id VARCHAR NOT NULL, opened_at TIMESTAMP NOT NULL, resolved_at TIMESTAMP,
    flow VARCHAR NOT NULL, category VARCHAR NOT NULL, channel VARCHAR NOT NULL)""",
    """CREATE TABLE surveys (
    response_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, flow VARCHAR NOT NULL,
    score INTEGER NOT NULL, comment VARCHAR, source VARCHAR NOT NULL)""",
    """CREATE TABLE metrics (
    series_key VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, name VARCHAR NOT NULL,
    value DOUBLE NOT NULL, labels VARCHAR NOT NULL)""",
    # ---- per-minute rollups ----------------------------------------------
    f"""CREATE TABLE rollup_decisions (
    minute TIMESTAMP NOT NULL, flow VARCHAR NOT NULL, feature VARCHAR NOT NULL,
    model VARCHAR NOT NULL, model_version VARCHAR NOT NULL,
    platform VARCHAR NOT NULL, region VARCHAR NOT NULL,
    n BIGINT NOT NULL, n_approve BIGINT NOT NULL, n_decline BIGINT NOT NULL,
    n_review BIGINT NOT NULL, n_labeled BIGINT NOT NULL, n_legit BIGINT NOT NULL,
    n_false_positive BIGINT NOT NULL, n_fraud BIGINT NOT NULL,
    n_fraud_caught BIGINT NOT NULL, amount_usd DECIMAL(38, 2) NOT NULL,
    fraud_amount_caught DECIMAL(38, 2) NOT NULL, score_sum DECIMAL(38, 6) NOT NULL,
    latency_sum DECIMAL(38, 3) NOT NULL, latency_max DOUBLE NOT NULL,
{_counts(LAT_COLS)},
{_counts(SCORE_COLS)})""",
    """CREATE TABLE rollup_funnel (
    minute TIMESTAMP NOT NULL, flow VARCHAR NOT NULL, platform VARCHAR NOT NULL,
    region VARCHAR NOT NULL, n_view BIGINT NOT NULL, n_start BIGINT NOT NULL,
    n_submit BIGINT NOT NULL, n_complete BIGINT NOT NULL, n_abandon BIGINT NOT NULL,
    completed_usd DECIMAL(38, 2) NOT NULL)""",
    """CREATE TABLE rollup_tickets (
    minute TIMESTAMP NOT NULL, flow VARCHAR NOT NULL, category VARCHAR NOT NULL,
    channel VARCHAR NOT NULL, n_opened BIGINT NOT NULL, n_resolved BIGINT NOT NULL,
    resolution_s_sum DECIMAL(38, 6) NOT NULL)""",
    """CREATE TABLE rollup_surveys (
    minute TIMESTAMP NOT NULL, flow VARCHAR NOT NULL, source VARCHAR NOT NULL,
    n BIGINT NOT NULL, score_sum BIGINT NOT NULL, n_promoters BIGINT NOT NULL,
    n_detractors BIGINT NOT NULL)""",
    # ---- ingest log ---------------------------------------------------------
    "CREATE SEQUENCE batch_id_seq START 1",
    """CREATE TABLE ingest_batches (
    batch_id BIGINT PRIMARY KEY DEFAULT nextval('batch_id_seq'),
    ingested_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, files VARCHAR NOT NULL,
    rows_read BIGINT NOT NULL, rows_new BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL, rows_updated BIGINT NOT NULL,
    source VARCHAR NOT NULL)""",
    # ---- control tables (filled by the control-panel and alerting work) ----
    """CREATE TABLE features (
    feature VARCHAR PRIMARY KEY, flow VARCHAR NOT NULL, model VARCHAR NOT NULL,
    description VARCHAR NOT NULL DEFAULT '', active_version VARCHAR NOT NULL,
    fallback VARCHAR NOT NULL, state VARCHAR NOT NULL DEFAULT 'on',
    percent INTEGER NOT NULL DEFAULT 100, version BIGINT NOT NULL DEFAULT 1,
    updated_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE model_versions (
    feature VARCHAR NOT NULL, model VARCHAR NOT NULL, version VARCHAR NOT NULL,
    activated_at TIMESTAMP NOT NULL, retired_at TIMESTAMP, note VARCHAR,
    PRIMARY KEY (feature, version))""",
    "CREATE SEQUENCE flag_change_id_seq START 1",
    """CREATE TABLE flag_changes (
    id BIGINT PRIMARY KEY DEFAULT nextval('flag_change_id_seq'),
    changed_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL, feature VARCHAR NOT NULL,
    action VARCHAR NOT NULL, old_state VARCHAR NOT NULL, new_state VARCHAR NOT NULL,
    reason VARCHAR NOT NULL, incident_id BIGINT)""",
    "CREATE SEQUENCE incident_id_seq START 1",
    """CREATE TABLE incidents (
    id BIGINT PRIMARY KEY DEFAULT nextval('incident_id_seq'),
    title VARCHAR NOT NULL, severity VARCHAR NOT NULL, status VARCHAR NOT NULL,
    flows VARCHAR[] NOT NULL, features VARCHAR[] NOT NULL,
    commander VARCHAR, comms_lead VARCHAR, description VARCHAR NOT NULL DEFAULT '',
    started_at TIMESTAMP, detected_at TIMESTAMP, acknowledged_at TIMESTAMP,
    mitigated_at TIMESTAMP, resolved_at TIMESTAMP, postmortem_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL)""",
    "CREATE SEQUENCE incident_event_id_seq START 1",
    """CREATE TABLE incident_events (
    id BIGINT PRIMARY KEY DEFAULT nextval('incident_event_id_seq'),
    incident_id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, body VARCHAR NOT NULL)""",
    "CREATE SEQUENCE alert_rule_id_seq START 1",
    """CREATE TABLE alert_rules (
    id BIGINT PRIMARY KEY DEFAULT nextval('alert_rule_id_seq'),
    name VARCHAR NOT NULL UNIQUE, kind VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    filters VARCHAR NOT NULL DEFAULT '{}', params VARCHAR NOT NULL DEFAULT '{}',
    severity VARCHAR NOT NULL, channels VARCHAR[] NOT NULL, runbook VARCHAR,
    action VARCHAR, enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)""",
    "CREATE SEQUENCE alert_id_seq START 1",
    """CREATE TABLE alerts (
    id BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    rule_id BIGINT NOT NULL, fingerprint VARCHAR NOT NULL, state VARCHAR NOT NULL,
    value DOUBLE, started_at TIMESTAMP NOT NULL, fired_at TIMESTAMP,
    resolved_at TIMESTAMP, acknowledged_by VARCHAR, acknowledged_at TIMESTAMP,
    incident_id BIGINT)""",
    "CREATE SEQUENCE outbox_id_seq START 1",
    """CREATE TABLE outbox (
    id BIGINT PRIMARY KEY DEFAULT nextval('outbox_id_seq'),
    created_at TIMESTAMP NOT NULL, channel VARCHAR NOT NULL, alert_id BIGINT,
    event VARCHAR NOT NULL, payload VARCHAR NOT NULL, status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TIMESTAMP,
    last_error VARCHAR, sent_at TIMESTAMP)""",
]

_V2 = [
    "ALTER TABLE incidents ADD COLUMN first_mitigation_at TIMESTAMP",
    "ALTER TABLE incidents ADD COLUMN postmortem VARCHAR NOT NULL DEFAULT '{}'",
    "ALTER TABLE incidents ADD COLUMN version BIGINT NOT NULL DEFAULT 1",
    "CREATE SEQUENCE ramp_id_seq START 1",
    """CREATE TABLE ramps (
    id BIGINT PRIMARY KEY DEFAULT nextval('ramp_id_seq'),
    feature VARCHAR NOT NULL, target_percent INTEGER NOT NULL, step INTEGER NOT NULL,
    every_minutes INTEGER NOT NULL, next_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL,
    created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, reason VARCHAR NOT NULL,
    incident_id BIGINT, updated_at TIMESTAMP NOT NULL, note VARCHAR)""",
    """CREATE TABLE users (
    name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, password_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE message_templates (
    name VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, body VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL, updated_by VARCHAR NOT NULL)""",
]

_V3 = [
    "ALTER TABLE alert_rules ADD COLUMN action_armed BOOLEAN NOT NULL DEFAULT true",
    "ALTER TABLE alerts ADD COLUMN baseline DOUBLE",
    "ALTER TABLE alerts ADD COLUMN acted_at TIMESTAMP",
    "ALTER TABLE alerts ADD COLUMN silenced BOOLEAN NOT NULL DEFAULT false",
    "CREATE SEQUENCE silence_id_seq START 1",
    """CREATE TABLE silences (
    id BIGINT PRIMARY KEY DEFAULT nextval('silence_id_seq'),
    kind VARCHAR NOT NULL, rule_id BIGINT, flow VARCHAR, starts_at TIMESTAMP NOT NULL, ends_at TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)""",
]

_V4 = [
    "CREATE SEQUENCE budget_scenario_id_seq START 1",
    """CREATE TABLE budget_scenarios (
    id BIGINT PRIMARY KEY DEFAULT nextval('budget_scenario_id_seq'),
    name VARCHAR NOT NULL UNIQUE, total_usd DOUBLE NOT NULL, allocation VARCHAR NOT NULL,
    assumptions VARCHAR NOT NULL, note VARCHAR NOT NULL DEFAULT '', created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL, updated_by VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1)""",
]

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "raw kinds, rollups, ingest log, control tables", _V1),
    (2, "ramps, users, message templates, incident mitigation time and postmortem", _V2),
    (3, "alert actions, silences and maintenance windows", _V3),
    (4, "budget scenarios", _V4),
]

RAW_TABLES = ("decisions", "funnel", "tickets", "surveys", "metrics")
ROLLUP_TABLES = ("rollup_decisions", "rollup_funnel", "rollup_tickets", "rollup_surveys")
