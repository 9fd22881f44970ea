"""Every warroom setting, declared once: name, environment variable, default, help.

A setting is read from its environment variable each time `get` is called, so a
test or a CLI flag can override it by setting the variable. The README documents
every setting listed here (a test checks that).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    help: str
    parse: Callable[[str], Any] = str


def _path(value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (Path.cwd() / p)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _mapping(value: str) -> dict[str, float]:
    """`name=number,name=number` (spaces allowed) -> {name: number}."""
    out: dict[str, float] = {}
    for part in _csv(value):
        name, sep, num = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected name=number, got {part!r}")
        out[name.strip()] = float(num)
    return out


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("db", "WARROOM_DB", "data/warroom.duckdb",
                "Path of the DuckDB store file.", _path),
        Setting("inbox", "WARROOM_INBOX", "",
                "Inbox folder that a running server watches; empty means "
                "`inbox/` next to the store file.", str),
        Setting("flags_file", "WARROOM_FLAGS_FILE", "data/flags.json",
                "Flag file in the OpenFeature flagd JSON format.", _path),
        Setting("host", "WARROOM_HOST", "127.0.0.1",
                "Address `warroom serve` listens on.", str),
        Setting("port", "WARROOM_PORT", "8501",
                "Port `warroom serve` listens on.", int),
        Setting("inbox_poll_seconds", "WARROOM_INBOX_POLL_SECONDS", "1.0",
                "How often the worker looks for new inbox files.", float),
        Setting("flows", "WARROOM_FLOWS",
                "deposit,withdrawal,trade,loan_application,signup",
                "Allowed values of the `flow` column (comma-separated).", _csv),
        Setting("max_future_minutes", "WARROOM_MAX_FUTURE_MINUTES", "1440",
                "Timestamps further than this many minutes ahead of the clock "
                "are rejected at ingest (clock-skew guard).", int),
        Setting("max_query_days", "WARROOM_MAX_QUERY_DAYS", "400",
                "Longest time range any read query may cover.", int),
        Setting("max_rows", "WARROOM_MAX_ROWS", "20000",
                "Most rows any read query returns to a page.", int),
        Setting("refresh_seconds", "WARROOM_REFRESH_SECONDS", "10",
                "How often the war room refreshes itself (seconds).", float),
        Setting("stale_minutes", "WARROOM_STALE_MINUTES", "5",
                "The war room warns when the newest event is older than this (minutes).", float),
        Setting("roles", "WARROOM_ROLES", "",
                "With OpenID sign-in: roles by e-mail, e.g. `ana@example.com=admin,bo@example.com=operator`.", str),
        Setting("default_role", "WARROOM_DEFAULT_ROLE", "viewer",
                "With OpenID sign-in: the role of a signed-in user not listed in WARROOM_ROLES.", str),
        Setting("eval_seconds", "WARROOM_EVAL_SECONDS", "15",
                "How often the worker evaluates the alert rules (seconds).", float),
        Setting("slack_webhook_url", "WARROOM_SLACK_WEBHOOK_URL", "",
                "Slack incoming-webhook URL for alerts; empty disables the Slack channel.", str),
        Setting("pagerduty_url", "WARROOM_PAGERDUTY_URL", "https://events.pagerduty.com/v2/enqueue",
                "PagerDuty Events API v2 endpoint.", str),
        Setting("pagerduty_routing_key", "WARROOM_PAGERDUTY_ROUTING_KEY", "",
                "PagerDuty integration (routing) key; empty disables the PagerDuty channel.", str),
        Setting("webhook_url", "WARROOM_WEBHOOK_URL", "",
                "Generic webhook receiving the Prometheus Alertmanager v4 payload; empty disables it.", str),
        Setting("public_url", "WARROOM_PUBLIC_URL", "http://127.0.0.1:8501",
                "How people reach this warroom (links in notifications).", str),
        Setting("delivery_timeout_seconds", "WARROOM_DELIVERY_TIMEOUT_SECONDS", "5",
                "Timeout of one notification delivery attempt.", float),
        Setting("outbox_max_age_minutes", "WARROOM_OUTBOX_MAX_AGE_MINUTES", "60",
                "A notification still undelivered after this long is marked failed.", float),
        Setting("roi_pre_days", "WARROOM_ROI_PRE_DAYS", "28",
                "Days before an incident that its counterfactual is fitted on (other incidents' windows left out).", float),
        Setting("avg_value_usd", "WARROOM_AVG_VALUE_USD", "",
                "Average value of one completed session per flow, e.g. `deposit=250,loan_application=5000`; "
                "a flow not listed uses its measured mean completed amount before the incident.", _mapping),
        Setting("take_rate", "WARROOM_TAKE_RATE", "default=0.01,loan_application=0.03",
                "Share of completed volume the platform earns, per flow (`default=` for the others).", _mapping),
        Setting("cost_per_ticket_usd", "WARROOM_COST_PER_TICKET_USD", "8",
                "Cost of handling one support ticket (USD).", float),
        Setting("fp_lost_share", "WARROOM_FP_LOST_SHARE", "0.6",
                "Share of falsely flagged legitimate users (declined or sent to review) who do not complete: "
                "the model-value page counts them as lost conversions.", float),
        Setting("progress_seconds", "WARROOM_PROGRESS_SECONDS", "2.0",
                "Ingests expected to take longer than this show a progress bar "
                "on the terminal.", float),
    ]
}


_secrets_cache: dict[Path, tuple[float, dict]] = {}


def _secrets() -> list[dict]:
    """The parsed secrets.toml files that exist, in lookup order (re-read when they change)."""
    import tomllib
    out = []
    for f in secrets_files():
        try:
            mtime = f.stat().st_mtime
        except OSError:
            continue
        cached = _secrets_cache.get(f)
        if cached is None or cached[0] != mtime:
            try:
                cached = (mtime, tomllib.loads(f.read_text()))
            except (OSError, ValueError):
                cached = (mtime, {})
            _secrets_cache[f] = cached
        out.append(cached[1])
    return out


def _from_secrets(s: Setting) -> str | None:
    """A setting from .streamlit/secrets.toml: top-level `WARROOM_X = "..."` or `[warroom] x = "..."`."""
    for data in _secrets():
        if s.env in data:
            return str(data[s.env])
        section = data.get("warroom")
        if isinstance(section, dict) and s.name in section:
            return str(section[s.name])
    return None


def get(name: str) -> Any:
    """The environment variable, else .streamlit/secrets.toml, else the default."""
    s = SETTINGS[name]
    raw = os.environ.get(s.env)
    if raw is None or raw == "":
        raw = _from_secrets(s)
    if raw is None or raw == "":
        raw = s.default
    return s.parse(raw)


def inbox_dir(db_path: Path | None = None) -> Path:
    """Inbox of the store at db_path (default: the configured store)."""
    configured = get("inbox")
    if configured:
        return _path(configured)
    db = Path(db_path) if db_path else get("db")
    return db.parent / "inbox"


def secrets_files() -> list[Path]:
    """Where Streamlit looks for secrets.toml (the project's folder, then the user's)."""
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml",
            ROOT / ".streamlit" / "secrets.toml"]


def oidc_configured() -> bool:
    """True when an [auth] section is in a secrets.toml (OpenID Connect sign-in via st.login)."""
    return any("auth" in data for data in _secrets())
