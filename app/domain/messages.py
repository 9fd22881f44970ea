"""Message templates for an incident, rendered in a sandboxed Jinja2 environment.

Defaults are calm and clear: what is affected, what users should do, when the
next update comes. Templates are stored in the store and editable in the app.
"""

from __future__ import annotations

from datetime import datetime

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from app.domain.auth import Actor, require
from app.store import control
from app.store.db import Store, utcnow

MAX_TEMPLATE = 10_000

DEFAULTS: dict[str, tuple[str, str]] = {
    "banner": ("User-facing banner / in-app notice",
               "Some {{ flows_text }} are taking longer than usual or need an extra check. Your funds are safe. "
               "If your {{ first_flow }} was held, there is no need to retry: we are reviewing held requests and "
               "will update you by {{ next_update }}."),
    "status_page": ("Status-page update",
                    "{{ status_title }}: {{ title }}\n\n"
                    "We are seeing {{ flows_text }} being declined or held for review more often than usual"
                    "{% if started %} since {{ started }}{% endif %}. Funds are safe and no action is needed. "
                    "{% if mitigated %}We have put a fix in place and are monitoring. {% else %}Our team is working "
                    "on it now. {% endif %}Next update by {{ next_update }}."),
    "support_macro": ("Support macro",
                      "Hi {{ '{{' }} customer_name {{ '}}' }},\n\n"
                      "Thank you for your patience. Since {{ started or detected }}, some {{ flows_text }} have been "
                      "held for an extra check by mistake. Your funds are safe. You do not need to retry: held "
                      "requests are being reviewed and released, and we will update you by {{ next_update }}.\n\n"
                      "Reference: incident #{{ id }}."),
    "exec_summary": ("Executive summary",
                     "Incident #{{ id }} ({{ severity }}): {{ title }}\n"
                     "Status: {{ status }}. Affected: {{ flows_text }}{% if features %} (features: {{ features }}){% endif %}.\n"
                     "Detected {{ detected }}{% if mitigated %}; mitigated {{ mitigated }}{% endif %}"
                     "{% if resolved %}; resolved {{ resolved }}{% endif %}.\n"
                     "Commander: {{ commander or 'not set' }}. Next stakeholder update by {{ next_update }}."),
}


class MessageError(ValueError):
    pass


_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


def context(inc: dict, *, next_update: datetime | None) -> dict:
    fmt = lambda t: "" if t is None else f"{t:%Y-%m-%d %H:%M} UTC"
    flows = [f.replace("_", " ") for f in inc["flows"]]
    words = {"deposit": "deposits", "withdrawal": "withdrawals", "trade": "trades",
             "loan application": "loan applications", "signup": "sign-ups"}
    nice = [words.get(f, f) for f in flows]
    flows_text = nice[0] if len(nice) == 1 else ", ".join(nice[:-1]) + " and " + nice[-1]
    return {
        "id": inc["id"], "title": inc["title"], "severity": inc["severity"], "status": inc["status"],
        "status_title": {"detected": "Investigating", "acknowledged": "Identified", "mitigated": "Monitoring",
                         "resolved": "Resolved", "postmortem": "Resolved"}[inc["status"]],
        "flows_text": flows_text, "first_flow": flows[0] if flows else "request",
        "features": ", ".join(inc["features"]), "commander": inc["commander"] or "",
        "started": fmt(inc["started_at"]), "detected": fmt(inc["detected_at"]),
        "mitigated": fmt(inc["mitigated_at"]), "resolved": fmt(inc["resolved_at"]),
        "next_update": fmt(next_update) if next_update else "the end of the day",
    }


def render(body: str, ctx: dict) -> str:
    """Render a template in the sandbox; a mistake is a clear MessageError, never a crash."""
    if len(body) > MAX_TEMPLATE:
        raise MessageError(f"the template is {len(body)} characters; at most {MAX_TEMPLATE}")
    try:
        return _env.from_string(body).render(**ctx)
    except TemplateError as exc:
        raise MessageError(f"the template cannot be rendered: {exc}") from exc


def templates(store: Store) -> dict[str, dict]:
    """Stored templates, with the defaults for any not stored yet."""
    stored = {t["name"]: t for t in control.templates(store.cursor())}
    out = {}
    for name, (title, body) in DEFAULTS.items():
        out[name] = stored.get(name, {"name": name, "title": title, "body": body, "updated_at": None,
                                      "updated_by": "default"})
    for name, t in stored.items():
        out.setdefault(name, t)
    return out


def save_template(store: Store, *, actor: Actor, name: str, body: str, title: str | None = None) -> None:
    require(actor, "operator", "edit message templates")
    if len(body) > MAX_TEMPLATE:
        raise MessageError(f"the template is {len(body)} characters; at most {MAX_TEMPLATE}")
    try:
        _env.parse(body)
    except TemplateError as exc:
        raise MessageError(f"the template has a syntax error: {exc}") from exc
    title = title or DEFAULTS.get(name, (name, ""))[0]
    with store.write() as w:
        control.upsert_template(w, name=name, title=title, body=body, at=utcnow(), actor=actor.name)
