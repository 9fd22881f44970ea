"""DataFrame -> plotly Figure for the ROI pages and the board report, nothing else."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from app.ui.charts import CONV_COLOR, FP_COLOR, INCIDENT_COLOR, MARKER_COLOR, _local

BAND = "rgba(76, 201, 240, 0.22)"
EXPECTED = "#9aa5b1"
GOOD = "#2a9d8f"
BAD = FP_COLOR
RECOVERY_LABELS = {"time_to_detect": "detect", "time_to_acknowledge": "acknowledge", "time_to_mitigate": "mitigate",
                   "time_to_resolve": "resolve", "time_to_toggle": "toggle (detection to first flag change)"}


def _layout(fig: go.Figure, **kw) -> go.Figure:
    fig.update_layout(margin=dict(l=10, r=10, t=40 if kw.get("title") else 10, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **kw)
    return fig


def counterfactual(buckets: pd.DataFrame, history: pd.DataFrame, *, tz: str = "UTC", flow: str = "",
                   mitigated_at=None, title: str | None = None) -> go.Figure:
    """Completions per bucket: the days before (actual and fitted), then the window's actual against
    the counterfactual with its 95% band. `buckets`: bucket, actual, expected, lower, upper;
    `history`: bucket, actual, fitted."""
    fig = go.Figure()
    hx = _local(history["bucket"], tz)
    x = _local(buckets["bucket"], tz)
    fig.add_trace(go.Scatter(x=hx, y=history["actual"].round(2).tolist(), name="actual before", mode="lines",
                             line=dict(color=CONV_COLOR, width=1.5), opacity=0.6,
                             hovertemplate="%{x}<br>actual %{y:.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=hx, y=history["fitted"].round(2).tolist(), name="model fit before", mode="lines",
                             line=dict(color=EXPECTED, width=1, dash="dot"),
                             hovertemplate="%{x}<br>fitted %{y:.1f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x + x[::-1], y=buckets["upper"].round(2).tolist() + buckets["lower"].round(2).tolist()[::-1],
                             fill="toself", fillcolor=BAND, line=dict(width=0), name="95% interval",
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=buckets["expected"].round(2).tolist(), name="without the incident (expected)",
                             mode="lines", line=dict(color=EXPECTED, width=2.5, dash="dash"),
                             hovertemplate="%{x}<br>expected %{y:.1f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=buckets["actual"].round(2).tolist(), name="actual", mode="lines",
                             line=dict(color=BAD, width=3), hovertemplate="%{x}<br>actual %{y:.0f}<extra></extra>"))
    if len(x):
        fig.add_vrect(x0=x[0], x1=x[-1], fillcolor=INCIDENT_COLOR, opacity=0.10, line_width=0, layer="below")
    if mitigated_at is not None:
        (mx,) = _local(pd.Series([pd.Timestamp(mitigated_at)]), tz)
        fig.add_vline(x=mx, line_dash="dot", line_color=MARKER_COLOR, line_width=2)
        fig.add_annotation(x=mx, y=1.0, yref="paper", text="mitigated", showarrow=False, textangle=-90,
                           xanchor="right", yanchor="top", font=dict(color=MARKER_COLOR))
    return _layout(fig, title=title, hovermode="x unified", xaxis=dict(title=f"time ({tz})"),
                   yaxis=dict(title=f"{flow.replace('_', ' ')} completions per bucket", rangemode="tozero"))


def cost_breakdown(parts: dict[str, tuple[float, float, float]], *, title: str | None = None) -> go.Figure:
    """Horizontal bars of cost parts (estimate with 95% interval as error bars)."""
    names = list(parts)
    est = [parts[n][0] for n in names]
    fig = go.Figure(go.Bar(
        y=names, x=est, orientation="h", marker_color=[BAD if v >= 0 else GOOD for v in est],
        error_x=dict(type="data", symmetric=False, array=[max(0.0, parts[n][2] - parts[n][0]) for n in names],
                     arrayminus=[max(0.0, parts[n][0] - parts[n][1]) for n in names]),
        text=[f"${v:,.0f}" for v in est], textposition="auto",
        hovertemplate="%{y}: $%{x:,.0f}<extra></extra>"))
    return _layout(fig, title=title, xaxis=dict(title="USD", tickprefix="$"), yaxis=dict(autorange="reversed"),
                   showlegend=False)


def recovery(minutes: dict[str, float | None], *, title: str | None = None) -> go.Figure:
    """Recovery times (minutes) as horizontal bars, in hours when long."""
    names = [RECOVERY_LABELS.get(k, k) for k, v in minutes.items() if v is not None]
    vals = [v for v in minutes.values() if v is not None]
    fig = go.Figure(go.Bar(y=names, x=vals, orientation="h", marker_color=CONV_COLOR,
                           text=[f"{v:.0f} min" if v < 120 else f"{v / 60:.1f} h" for v in vals],
                           textposition="auto", hovertemplate="%{y}: %{x:.0f} min<extra></extra>"))
    return _layout(fig, title=title, xaxis=dict(title="minutes from the start (detection for acknowledge/toggle)"),
                   yaxis=dict(autorange="reversed"), showlegend=False)


def sentiment(series: pd.DataFrame, *, tz: str = "UTC", title: str | None = None) -> go.Figure:
    """Mean survey score per bucket (bars; the window's in red) with the number of responses."""
    x = _local(series["bucket"], tz)
    colors = [BAD if d else CONV_COLOR for d in series["during"]]
    fig = go.Figure(go.Bar(
        x=x, y=series["mean_score"].round(2).tolist(), marker_color=colors,
        customdata=list(zip(series["n"].astype(int), series["nps"].round(0))),
        text=[f"n={int(n)}" for n in series["n"]], textposition="outside",
        hovertemplate="%{x}<br>mean score %{y:.2f} (%{customdata[0]} responses, NPS %{customdata[1]})<extra></extra>"))
    return _layout(fig, title=title, xaxis=dict(title=f"time ({tz}); red: during the incident"),
                   yaxis=dict(title="mean survey score (0-10)", range=[0, 10.5]), showlegend=False)


def incidents_by_cost(df: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Ranked incidents: total cost with its interval (the quarter summary's rows)."""
    d = df.dropna(subset=["total_cost"]).sort_values("total_cost", ascending=True)
    labels = [f"#{int(r.id)} {str(r.title)[:40]}" for r in d.itertuples()]
    fig = go.Figure(go.Bar(
        y=labels, x=d["total_cost"].round(0).tolist(), orientation="h", marker_color=BAD,
        error_x=dict(type="data", symmetric=False, array=(d["total_cost_upper"] - d["total_cost"]).clip(lower=0).tolist(),
                     arrayminus=(d["total_cost"] - d["total_cost_lower"]).clip(lower=0).tolist()),
        customdata=list(zip(d["lost_revenue"].round(0), d["ticket_cost"].round(0), d["hours"].round(1))),
        hovertemplate="%{y}<br>total $%{x:,.0f}<br>lost revenue $%{customdata[0]:,.0f}, "
                      "support $%{customdata[1]:,.0f}<br>%{customdata[2]} h<extra></extra>"))
    return _layout(fig, title=title, xaxis=dict(title="cost (USD, 95% interval)", tickprefix="$"),
                   height=max(260, 36 * len(d) + 80), showlegend=False)


def recovery_trend(monthly: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """MTTD / MTTA / MTTM / MTTR (hours) per month."""
    fig = go.Figure()
    for col, name, color in (("mttd_min", "MTTD (detect)", FP_COLOR), ("mtta_min", "MTTA (acknowledge)", INCIDENT_COLOR),
                             ("mttm_min", "MTTM (mitigate)", MARKER_COLOR), ("mttr_min", "MTTR (resolve)", CONV_COLOR)):
        fig.add_trace(go.Scatter(x=monthly["month"].tolist(), y=(monthly[col] / 60).round(2).tolist(), name=name,
                                 mode="lines+markers", line=dict(color=color, width=2.5), connectgaps=False,
                                 hovertemplate="%{x}: %{y:.2f} h<extra>" + name + "</extra>"))
    return _layout(fig, title=title, xaxis=dict(title="month", type="category"),
                   yaxis=dict(title="hours (mean over the month's incidents)", rangemode="tozero"))


def recovery_vs_cost(df: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """One point per incident: time to mitigate (hours) against total cost."""
    d = df.dropna(subset=["total_cost", "time_to_mitigate_min"])
    fig = go.Figure(go.Scatter(
        x=(d["time_to_mitigate_min"] / 60).round(2).tolist(), y=d["total_cost"].round(0).tolist(), mode="markers+text",
        text=[f"#{int(i)}" for i in d["id"]], textposition="top center", marker=dict(size=12, color=BAD),
        hovertemplate="%{text}: mitigated after %{x:.1f} h, cost $%{y:,.0f}<extra></extra>"))
    return _layout(fig, title=title, xaxis=dict(title="time to mitigate (hours)", rangemode="tozero"),
                   yaxis=dict(title="total cost (USD)", tickprefix="$", rangemode="tozero"), showlegend=False)


def model_value(df: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Per feature: fraud prevented (up), false-positive cost (down) and the net value (marker)."""
    d = df[df["labelled"] > 0]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=d["feature"].tolist(), y=d["fraud_prevented_usd"].round(0).tolist(), name="fraud prevented",
                         marker_color=GOOD, hovertemplate="%{x}: prevented $%{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Bar(x=d["feature"].tolist(), y=(-d["false_positive_cost_usd"]).round(0).tolist(),
                         name="false positives' lost conversions", marker_color=BAD,
                         hovertemplate="%{x}: false positives cost $%{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=d["feature"].tolist(), y=d["net_value_usd"].round(0).tolist(), name="net value",
                             mode="markers+text", marker=dict(symbol="diamond", size=14, color="#e9c46a"),
                             text=[f"${v:,.0f}" for v in d["net_value_usd"]], textposition="middle right",
                             hovertemplate="%{x}: net $%{y:,.0f}<extra></extra>"))
    return _layout(fig, title=title, barmode="relative", yaxis=dict(title="USD", tickprefix="$"))


def allocation(df: pd.DataFrame, lines: dict[str, str], *, title: str | None = None) -> go.Figure:
    """Stacked spend per line for each scenario (the budget comparison's rows)."""
    fig = go.Figure()
    for key, label in lines.items():
        fig.add_trace(go.Bar(x=df["scenario"].tolist(), y=df[f"spend_{key}"].round(0).tolist(), name=label,
                             hovertemplate="%{x}<br>" + label + ": $%{y:,.0f}<extra></extra>"))
    return _layout(fig, title=title, barmode="stack", yaxis=dict(title="yearly spend (USD)", tickprefix="$"))


def scenario_outcomes(df: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Per scenario: spend, expected yearly incident loss and net benefit."""
    fig = go.Figure()
    for col, name, color in (("spend_usd", "spend", EXPECTED), ("expected_yearly_loss_usd", "expected yearly loss", BAD),
                             ("net_benefit_usd", "net benefit (loss avoided - spend)", GOOD)):
        fig.add_trace(go.Bar(x=df["scenario"].tolist(), y=df[col].round(0).tolist(), name=name, marker_color=color,
                             text=[f"${v:,.0f}" for v in df[col]], textposition="auto",
                             hovertemplate="%{x}<br>" + name + ": $%{y:,.0f}<extra></extra>"))
    return _layout(fig, title=title, barmode="group", yaxis=dict(title="USD per year", tickprefix="$"))
