"""The board report of a quarter: a self-contained HTML file (plotly.js embedded, opens
offline) and a PDF with the same charts as images.

Sections: summary numbers, incidents by cost, recovery trend, model value, budget
scenario. The PDF's chart images are rendered by Kaleido, which drives the
machine's Chromium (Debian's `chromium` package); the HTML needs nothing.
"""

from __future__ import annotations

import html
import io
import threading
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from app.domain import budget, quarter as quarter_domain
from app.domain.roi import minutes_as_hours, money
from app.store.db import Store
from app.ui import roi_charts

DEFAULT_BUDGET_USD = 250_000.0
_kaleido_lock = threading.Lock()


@dataclass
class Report:
    quarter: str
    generated_at: datetime
    summary: quarter_domain.QuarterSummary
    model_value: pd.DataFrame
    baseline: budget.Baseline
    scenarios: pd.DataFrame  # budget.compare rows
    scenario_source: str

    @property
    def totals(self) -> dict:
        return self.summary.totals

    def best_scenario(self) -> str | None:
        if self.scenarios.empty:
            return None
        return str(self.scenarios.sort_values("net_benefit_usd", ascending=False)["scenario"].iloc[0])


def build(store: Store, quarter: str, *, now: datetime, scenario_names: list[str] | None = None,
          budget_usd: float = DEFAULT_BUDGET_USD) -> Report:
    """Gather every number of the report (the quarter's incidents, model value, budget comparison)."""
    summary = quarter_domain.summarize(store, quarter, now=now)
    value = quarter_domain.model_value(store, start=summary.start, end=min(summary.end, max(now, summary.start)))
    baseline = quarter_domain.measured_baseline(store, now=now)
    saved = budget.scenarios(store)
    if scenario_names:
        missing = set(scenario_names) - {s.name for s in saved}
        if missing:
            raise ValueError(f"no saved budget scenario named {', '.join(sorted(missing))}")
        items, source = [s for s in saved if s.name in scenario_names], "saved scenarios"
    elif saved:
        items, source = saved, "saved scenarios"
    else:
        items = [budget.preset(name, budget_usd) for name in budget.PRESETS]
        source = f"the preset splits of ${budget_usd:,.0f} (no scenario saved yet)"
    return Report(quarter=quarter, generated_at=now, summary=summary, model_value=value, baseline=baseline,
                  scenarios=budget.compare(baseline, items), scenario_source=source)


# --------------------------------------------------------------------------- content shared by HTML and PDF


def summary_rows(r: Report) -> list[tuple[str, str]]:
    t = r.totals
    net = quarter_domain.model_value_totals(r.model_value)["net_value_usd"]
    best = r.best_scenario()
    return [
        ("Incidents that began in the quarter", f"{t['incidents']} ({t['estimated']} estimated)"),
        ("Total incident cost", f"{money(t['total_cost'])} (95% interval {money(t['total_cost_lower'])} .. "
                                f"{money(t['total_cost_upper'])})"),
        ("  lost revenue", money(t["lost_revenue"])),
        ("  support cost (excess tickets)", money(t["ticket_cost"])),
        ("Lost conversions", f"{t['lost_conversions']:,.0f}"),
        ("Incident hours", f"{t['incident_hours']:,.1f}"),
        ("Cost per hour of incident", money(t["cost_per_hour"])),
        ("Mean time to detect / acknowledge", f"{minutes_as_hours(t['mttd_min'])} / {minutes_as_hours(t['mtta_min'])}"),
        ("Mean time to mitigate / resolve", f"{minutes_as_hours(t['mttm_min'])} / {minutes_as_hours(t['mttr_min'])}"),
        ("Net value of the ML features (fraud prevented - false-positive cost)", money(net)),
        ("Budget scenario with the highest net benefit", best or "none"),
    ]


def incident_table(summary: quarter_domain.QuarterSummary) -> pd.DataFrame:
    d = summary.incidents
    return pd.DataFrame({
        "#": d["id"].astype(int), "title": d["title"], "flow": d["flow"], "severity": d["severity"],
        "hours": d["hours"].round(1), "total cost": d["total_cost"].map(money),
        "lost revenue": d["lost_revenue"].map(money), "support": d["ticket_cost"].map(money),
        "mitigated after": d["time_to_mitigate_min"].map(lambda m: "not yet" if pd.isna(m) else f"{m / 60:.1f} h"),
        "note": d["note"]})


def monthly_table(summary: quarter_domain.QuarterSummary) -> pd.DataFrame:
    m = summary.monthly()
    h = lambda c: m[c].map(lambda v: "n/a" if pd.isna(v) else f"{v / 60:.2f}")  # noqa: E731
    return pd.DataFrame({"month": m["month"], "incidents": m["incidents"], "MTTD h": h("mttd_min"),
                         "MTTA h": h("mtta_min"), "MTTM h": h("mttm_min"), "MTTR h": h("mttr_min"),
                         "cost": m["total_cost"].map(money)})


def value_table(v: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"feature": v["feature"], "flow": v["flow"], "fraud prevented": v["fraud_prevented_usd"].map(money),
                         "false positives": v["false_positives"], "FP lost conversions": v["lost_conversions"].map(lambda x: f"{x:,.0f}"),
                         "FP cost": v["false_positive_cost_usd"].map(money), "net value": v["net_value_usd"].map(money),
                         "note": v["note"]})


def scenario_table(s: pd.DataFrame) -> pd.DataFrame:
    out = {"scenario": s["scenario"]}
    for key, label in budget.LINES.items():
        out[label] = s[f"spend_{key}"].map(money)
    out.update({"expected yearly loss": s["expected_yearly_loss_usd"].map(money),
                "net benefit": s["net_benefit_usd"].map(money)})
    return pd.DataFrame(out)


def assumption_rows(r: Report) -> list[tuple[str, str]]:
    b = r.baseline
    rows = [("Drivers", b.source), ("Incidents per year", f"{b.incidents_per_year:.1f}"),
            ("Loss per hour before mitigation", money(b.loss_per_hour_usd)),
            ("Hours to detect", f"{b.hours_to_detect:.2f}"),
            ("Hours from detection to mitigation", f"{b.hours_detect_to_mitigate:.2f}"),
            ("Hours from mitigation to resolution", f"{b.hours_mitigate_to_resolve:.2f}"),
            ("Share of the loss rate left after mitigation", f"{b.residual_loss_share:.0%}"),
            ("Support cost per incident", money(b.support_cost_per_incident_usd))]
    for lv in budget.DEFAULT_LEVERS:
        rows.append((f"Lever: {budget.LINES[lv.line]}", f"cuts {budget.DRIVERS[lv.driver]} by up to "
                     f"{lv.max_reduction:.0%}, half of that at {money(lv.half_effect_usd)} a year"))
    return rows


VALUE_NOTE = ("Fraud prevented: amount of labelled fraud the model declined or held for review. False-positive "
              "cost: legitimate users flagged x the share who do not complete x average value x take rate.")


@dataclass
class Section:
    title: str
    figures: list[go.Figure]
    table: pd.DataFrame
    note: str = ""
    pairs: list[tuple[str, str]] | None = None  # a two-column table after the note


def sections(r: Report) -> list[Section]:
    """The report's sections after the summary, in order: both the HTML and the PDF draw these."""
    s = r.summary
    return [
        Section("Incidents by cost", [roi_charts.incidents_by_cost(s.incidents, title="Incidents by total cost "
                                                                                     "(95% interval)")],
                incident_table(s)),
        Section("Recovery trend", [roi_charts.recovery_trend(s.monthly(), title="Mean recovery times by month"),
                                   roi_charts.recovery_vs_cost(s.incidents, title="Time to mitigate against cost")],
                monthly_table(s)),
        Section("Model value", [roi_charts.model_value(r.model_value, title="Fraud prevented against "
                                                                            "false-positive cost")],
                value_table(r.model_value), VALUE_NOTE),
        Section("Budget scenario", [roi_charts.allocation(r.scenarios, budget.LINES, title="Yearly spend per line"),
                                    roi_charts.scenario_outcomes(r.scenarios, title="Expected yearly loss and net "
                                                                                    "benefit")],
                scenario_table(r.scenarios), f"Compared: {r.scenario_source}. Assumptions:", assumption_rows(r)),
    ]


def _light(fig: go.Figure) -> go.Figure:
    """The report's look: light background, legend under the plot (clear of the title)."""
    fig = go.Figure(fig)
    fig.update_layout(template="plotly_white", font=dict(family="Helvetica, Arial, sans-serif", size=13),
                      margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    return fig


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #1d2733; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #e3e7ec; padding-bottom: 0.3rem; margin-top: 2.5rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; margin: 0.8rem 0; }
th, td { border-bottom: 1px solid #e3e7ec; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f5f7f9; } .muted { color: #66737f; font-size: 0.85rem; } .chart { margin: 1rem 0; }
"""


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(rows: list[tuple[str, str]]) -> str:
    return _html_table(pd.DataFrame(rows, columns=["", ""]))


def _html_chart(fig: go.Figure) -> str:
    return ('<div class="chart">' + _light(fig).to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                                                       config={"displaylogo": False, "responsive": True}) + "</div>")


def to_html(r: Report) -> str:
    parts = [("Summary", _pairs(summary_rows(r)))]
    for sec in sections(r):
        parts.append((sec.title, "".join(_html_chart(f) for f in sec.figures) + _html_table(sec.table)
                      + (f'<p class="muted">{html.escape(sec.note)}</p>' if sec.note else "")
                      + (_pairs(sec.pairs) if sec.pairs else "")))
    body = "".join(f'<section id="{k.lower().replace(" ", "-")}"><h2>{html.escape(k)}</h2>{v}</section>'
                   for k, v in parts)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>warroom board report "
            f"{html.escape(r.quarter)}</title><style>{_CSS}</style><script type=\"text/javascript\">{get_plotlyjs()}"
            f"</script></head><body><h1>Incident cost and recovery: {html.escape(r.quarter)}</h1>"
            f"<p class=\"muted\">Generated by warroom at {r.generated_at:%Y-%m-%d %H:%M} UTC from the store's "
            f"incidents, funnel, tickets, surveys and decisions. Costs are estimates against a counterfactual "
            f"with 95% intervals.</p>{body}</body></html>")


# --------------------------------------------------------------------------- PDF


def _latin1(text: str) -> str:
    return str(text).replace("\u2014", "-").replace("\u2013", "-").replace("\u2192", "->").encode(
        "latin-1", "replace").decode("latin-1")


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class ReportError(RuntimeError):
    """The report cannot be written (no Chromium for the PDF's charts)."""


def pdf_available() -> bool:
    """Kaleido draws the PDF's charts with a Chromium on this machine (BROWSER_PATH, or one on PATH)."""
    import os
    import shutil
    return bool(os.environ.get("BROWSER_PATH")) or any(shutil.which(b) for b in BROWSERS)


def chart_images(figs: list[go.Figure], *, width: int = 1000, height: int = 480) -> list[bytes]:
    """PNG images of the figures (one Chromium session for all of them)."""
    import logging

    import kaleido
    for name in ("choreographer", "kaleido", "logistro"):  # their INFO lines would bury the command's output
        logging.getLogger(name).setLevel(logging.WARNING)
    if not pdf_available():
        raise ReportError("the PDF's charts are drawn by Chromium, and none is installed: install Debian's "
                          "chromium package (apt-get install chromium) or set BROWSER_PATH; the HTML report "
                          "needs nothing")
    with _kaleido_lock:
        kaleido.start_sync_server(silence_warnings=True)
        try:
            return [pio.to_image(_light(f), format="png", width=width, height=height, scale=2) for f in figs]
        finally:
            kaleido.stop_sync_server(silence_warnings=True)


def to_pdf(r: Report) -> bytes:
    import warnings

    from fpdf import FPDF
    secs = sections(r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images = iter(chart_images([f for sec in secs for f in sec.figures]))
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_title(f"warroom board report {r.quarter}")

    def heading(text: str) -> None:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 10, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)

    def table(df: pd.DataFrame, widths=None) -> None:
        pdf.set_font("Helvetica", "", 8)
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5) as t:
            t.row([_latin1(c) for c in df.columns])
            for row in df.itertuples(index=False):
                t.row([_latin1(v) for v in row])

    def images_side_by_side(n: int) -> None:
        w = (pdf.w - 2 * pdf.l_margin) / n - (2 if n > 1 else 0)
        y = pdf.get_y()
        for k in range(n):
            pdf.image(io.BytesIO(next(images)), x=pdf.l_margin + k * (w + 4), y=y, w=w)
        pdf.set_y(y + w * 480 / 1000 + 2)

    heading(f"Incident cost and recovery: {r.quarter}")
    pdf.multi_cell(0, 5, _latin1(f"Generated by warroom at {r.generated_at:%Y-%m-%d %H:%M} UTC. Costs are estimates "
                                 "against a counterfactual with 95% intervals."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    table(pd.DataFrame(summary_rows(r), columns=["Summary", ""]), widths=(45, 55))
    for sec in secs:
        heading(sec.title)
        images_side_by_side(len(sec.figures))
        table(sec.table)
        if sec.note or sec.pairs:
            pdf.ln(2)
            text = " ".join([sec.note, "; ".join(f"{a}: {b}" for a, b in sec.pairs or [])]).strip()
            pdf.multi_cell(0, 4.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
