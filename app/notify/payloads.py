"""The payloads others already speak: Slack incoming webhooks (text + blocks),
PagerDuty Events API v2, and the Prometheus Alertmanager v4 webhook."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PD_SEVERITY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "SEV4": "info"}
PD_ACTION = {"firing": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}


@dataclass(frozen=True)
class AlertEvent:
    """One state change of one alert: what every channel is told."""
    alert_id: int
    fingerprint: str  # stable for one break: the PagerDuty dedup_key and Alertmanager fingerprint
    rule: str
    state: str  # firing | acknowledged | resolved
    severity: str  # SEV1..SEV4
    metric: str
    value: float | None
    baseline: float | None
    labels: dict = field(default_factory=dict)  # flow, feature, platform, region
    started_at: datetime | None = None
    ended_at: datetime | None = None
    runbook: str | None = None
    link: str = ""  # the war room for this flow

    @property
    def summary(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        value = "" if self.value is None else f" {self.value:.4g}"
        base = "" if self.baseline is None else f" (baseline {self.baseline:.4g})"
        return f"[{self.state.upper()}] {self.severity} {self.rule}: {self.metric}{value}{base}" + (f" on {where}" if where else "")


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def slack(e: AlertEvent) -> dict:
    fields = [{"type": "mrkdwn", "text": f"*Metric*\n{e.metric}"},
              {"type": "mrkdwn", "text": f"*Value*\n{'—' if e.value is None else f'{e.value:.4g}'}"},
              {"type": "mrkdwn", "text": f"*Baseline*\n{'—' if e.baseline is None else f'{e.baseline:.4g}'}"},
              {"type": "mrkdwn", "text": f"*Severity*\n{e.severity}"}]
    links = [f"<{e.link}|Open the war room>"] + ([f"<{e.runbook}|Runbook>"] if e.runbook else [])
    return {
        "text": e.summary,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{e.state.upper()}: {e.rule}"[:150]}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(
                [f"{k}: {v}" for k, v in sorted(e.labels.items())] or ["all traffic"])}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": " | ".join(links)}},
        ],
    }


def pagerduty(e: AlertEvent, routing_key: str) -> dict:
    body = {"routing_key": routing_key, "event_action": PD_ACTION[e.state], "dedup_key": e.fingerprint}
    if e.state == "firing":
        body["payload"] = {
            "summary": e.summary[:1024], "source": "warroom", "severity": PD_SEVERITY.get(e.severity, "warning"),
            "timestamp": _iso(e.started_at), "component": e.labels.get("feature") or e.labels.get("flow", ""),
            "group": e.labels.get("flow", ""), "class": e.metric,
            "custom_details": {"value": e.value, "baseline": e.baseline, "labels": e.labels, "rule": e.rule},
        }
        body["links"] = [{"href": e.link, "text": "war room"}] + ([{"href": e.runbook, "text": "runbook"}]
                                                                  if e.runbook else [])
    return body


def alertmanager(e: AlertEvent, *, receiver: str = "warroom", external_url: str = "") -> dict:
    status = "resolved" if e.state == "resolved" else "firing"
    labels = {"alertname": e.rule, "severity": e.severity, "metric": e.metric, **{k: str(v) for k, v in e.labels.items()}}
    annotations = {"summary": e.summary, "value": "" if e.value is None else f"{e.value:.6g}",
                   "baseline": "" if e.baseline is None else f"{e.baseline:.6g}",
                   **({"runbook_url": e.runbook} if e.runbook else {}), "acknowledged": str(e.state == "acknowledged").lower()}
    return {
        "version": "4", "groupKey": f"{{}}:{{alertname=\"{e.rule}\"}}", "truncatedAlerts": 0, "status": status,
        "receiver": receiver, "groupLabels": {"alertname": e.rule}, "commonLabels": labels,
        "commonAnnotations": annotations, "externalURL": external_url,
        "alerts": [{"status": status, "labels": labels, "annotations": annotations,
                    "startsAt": _iso(e.started_at) or "0001-01-01T00:00:00Z",
                    "endsAt": _iso(e.ended_at) if status == "resolved" else "0001-01-01T00:00:00Z",
                    "generatorURL": e.link, "fingerprint": e.fingerprint}],
    }
