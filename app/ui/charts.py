"""DataFrame -> plotly Figure, nothing else."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

FP_COLOR = "#ff5c5c"
CONV_COLOR = "#4cc9f0"
INCIDENT_COLOR = "#ffb703"
MARKER_COLOR = "#c77dff"


def _local(ts: pd.Series, tz: str) -> list[str]:
    """UTC-naive timestamps as ISO strings in the viewer's time zone (plotly takes strings)."""
    if ts.empty:
        return []
    local = pd.to_datetime(ts).dt.tz_localize("UTC").dt.tz_convert(tz)
    return local.dt.strftime("%Y-%m-%d %H:%M").tolist()


def fp_vs_conversion(df: pd.DataFrame, *, tz: str = "UTC", flow: str = "deposit",
                     title: str | None = None, incidents: pd.DataFrame | None = None,
                     markers: pd.DataFrame | None = None, window: tuple | None = None) -> go.Figure:
    """False-positive rate (left axis) against conversion (right axis), both in percent.

    `df` has columns bucket, false_positive_rate, conversion (rates 0..1).
    `incidents` (began, resolved_at, title, severity) become shaded regions;
    `markers` (changed_at, label, detail) become labelled vertical lines, and hovering
    a marker's dot says what changed. `window` = (start, end) clips open incidents.
    """
    x = _local(df["bucket"], tz) if len(df) else []
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=x, y=(df["false_positive_rate"] * 100).round(3).tolist() if len(df) else [],
        name="False-positive rate", mode="lines", line=dict(color=FP_COLOR, width=3), yaxis="y",
        hovertemplate="%{x}<br>False-positive rate %{y:.2f}%<extra></extra>", connectgaps=False))
    fig.add_trace(go.Scatter(
        x=x, y=(df["conversion"] * 100).round(3).tolist() if len(df) else [],
        name=f"{flow.replace('_', ' ').capitalize()} conversion", mode="lines",
        line=dict(color=CONV_COLOR, width=3), yaxis="y2",
        hovertemplate="%{x}<br>Conversion %{y:.2f}%<extra></extra>", connectgaps=False))
    if incidents is not None and len(incidents):
        for _, inc in incidents.iterrows():
            x0 = inc["began"]
            if window is not None:
                x0 = max(pd.Timestamp(x0), pd.Timestamp(window[0]))
            x1 = inc["resolved_at"] if pd.notna(inc["resolved_at"]) else (window[1] if window else x0)
            if window is not None:
                x1 = min(pd.Timestamp(x1), pd.Timestamp(window[1]))
            a, b = _local(pd.Series([x0, x1]), tz)
            fig.add_vrect(x0=a, x1=b, fillcolor=INCIDENT_COLOR, opacity=0.18, line_width=0, layer="below",
                          annotation_text=f"{inc['severity']} #{inc['id']}: {inc['title']}"[:48],
                          annotation_position="top left", annotation_font_color="#ffb703")
    if markers is not None and len(markers):
        xs = _local(markers["changed_at"], tz)
        for x, label in zip(xs, markers["label"]):
            fig.add_vline(x=x, line_dash="dot", line_color=MARKER_COLOR, line_width=2)
            fig.add_annotation(x=x, y=1.0, yref="paper", text=label, showarrow=False, textangle=-90,
                               xanchor="right", yanchor="top", font=dict(color=MARKER_COLOR, size=12))
        fig.add_trace(go.Scatter(
            x=xs, y=[0] * len(xs), mode="markers", name="Flag changes",
            marker=dict(symbol="diamond", size=11, color=MARKER_COLOR), yaxis="y",
            hovertext=markers["detail"].tolist(), hovertemplate="%{x}<br>%{hovertext}<extra></extra>"))
    fig.update_layout(
        title=title, hovermode="x unified", margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        xaxis=dict(title=f"time ({tz})"),
        yaxis=dict(title=dict(text="false-positive rate (%)", font=dict(color=FP_COLOR)), rangemode="tozero",
                   ticksuffix="%", tickformat=".0f", nticks=7),
        yaxis2=dict(title=dict(text="conversion (%)", font=dict(color=CONV_COLOR)), overlaying="y",
                    side="right", rangemode="tozero", ticksuffix="%", tickformat=".1f", nticks=7, showgrid=False),
    )
    return fig


def fp_conversion_scatter(df: pd.DataFrame, *, flow: str, fit=None) -> go.Figure:
    """One point per bucket (x: false-positive rate %, y: conversion %), coloured by `period`,
    with the fitted line when `fit` (domain.trends.Fit) is given."""
    fig = go.Figure()
    for period, part in df.groupby("period", sort=False):
        fig.add_trace(go.Scatter(
            x=(part["false_positive_rate"] * 100).round(3).tolist(), y=(part["conversion"] * 100).round(3).tolist(),
            mode="markers", name=str(period), marker=dict(size=7, opacity=0.75),
            hovertemplate="FP %{x:.2f}%<br>conversion %{y:.2f}%<extra>" + str(period) + "</extra>"))
    if fit is not None:
        xs = (df["false_positive_rate"] * 100).dropna()
        if len(xs):
            x0, x1 = float(xs.min()), float(xs.max())
            fig.add_trace(go.Scatter(x=[x0, x1], y=[fit.intercept + fit.slope * x0, fit.intercept + fit.slope * x1],
                                     mode="lines", name=f"fit: {fit.slope:+.2f} pts per FP pt",
                                     line=dict(color="#ffffff", dash="dash", width=2)))
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.02, yanchor="bottom"),
                      xaxis=dict(title="false-positive rate (%)", ticksuffix="%"),
                      yaxis=dict(title=f"{flow.replace('_', ' ')} conversion (%)", ticksuffix="%"))
    return fig


def score_distribution(reference: list[float], current: list[float], *, labels: list[str]) -> go.Figure:
    """Shares of decisions per score bucket: the reference window against the chosen one."""
    def shares(c):
        total = sum(c)
        return [100 * v / total if total else 0 for v in c]
    fig = go.Figure([
        go.Bar(x=labels, y=shares(reference), name="reference window", marker_color="#8d99ae"),
        go.Bar(x=labels, y=shares(current), name="chosen window", marker_color=FP_COLOR),
    ])
    fig.update_layout(barmode="group", margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="model score"), yaxis=dict(title="share of decisions (%)", ticksuffix="%"),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom"))
    return fig


def drift_over_time(df: pd.DataFrame, *, tz: str = "UTC") -> go.Figure:
    """PSI (left) and Jensen-Shannon distance (right) per day against the reference."""
    x = _local(df["bucket"], tz) if len(df) else []
    fig = go.Figure([
        go.Scatter(x=x, y=df["psi"].round(4).tolist(), name="PSI", mode="lines+markers", line=dict(color=FP_COLOR)),
        go.Scatter(x=x, y=df["js_distance"].round(4).tolist(), name="Jensen-Shannon distance", mode="lines+markers",
                   yaxis="y2", line=dict(color=CONV_COLOR)),
    ])
    fig.add_hline(y=0.25, line_dash="dot", line_color="#888", annotation_text="PSI 0.25: major shift")
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.02, yanchor="bottom"),
                      xaxis=dict(title=f"day ({tz})"), yaxis=dict(title="PSI", rangemode="tozero"),
                      yaxis2=dict(title="JS distance", overlaying="y", side="right", range=[0, 1], showgrid=False))
    return fig


def latency_percentiles(df: pd.DataFrame) -> go.Figure:
    """Grouped bars of p50 / p95 / p99 latency per model version (df: model_version, p50, p95, p99)."""
    fig = go.Figure([go.Bar(x=df["model_version"].tolist(), y=df[c].round(1).tolist(), name=c)
                     for c in ("p50", "p95", "p99")])
    fig.update_layout(barmode="group", margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="model version", type="category"), yaxis=dict(title="latency (ms)"),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom"))
    return fig


def rule_backtest(df: pd.DataFrame, *, metric: str, tz: str = "UTC", incidents: pd.DataFrame | None = None,
                  threshold: float | None = None) -> go.Figure:
    """A rule's metric over stored history, where it would have fired shaded red, incidents in amber."""
    x = _local(df["bucket"], tz) if len(df) else []
    fig = go.Figure([go.Scatter(x=x, y=df["value"].tolist() if len(df) else [], mode="lines", name=metric,
                                line=dict(color=CONV_COLOR, width=2))])
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dot", line_color=FP_COLOR, annotation_text=f"threshold {threshold:g}")
    if len(df):
        f = df["firing"].astype(bool).to_numpy()
        starts = [i for i in range(len(f)) if f[i] and (i == 0 or not f[i - 1])]
        for s in starts:
            e = s
            while e + 1 < len(f) and f[e + 1]:
                e += 1
            fig.add_vrect(x0=x[s], x1=x[e], fillcolor=FP_COLOR, opacity=0.25, line_width=0, layer="below")
    if incidents is not None and len(incidents) and len(df):
        for _, inc in incidents.iterrows():
            end = inc["resolved_at"] if pd.notna(inc["resolved_at"]) else df["bucket"].max()
            a, b = _local(pd.Series([max(pd.Timestamp(inc["began"]), pd.Timestamp(df["bucket"].min())),
                                     pd.Timestamp(end)]), tz)
            fig.add_vrect(x0=a, x1=b, fillcolor=INCIDENT_COLOR, opacity=0.15, line_width=0, layer="below",
                          annotation_text=f"#{inc['id']} {inc['title']}"[:40], annotation_position="top left")
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(title=f"time ({tz})"),
                      yaxis=dict(title=metric), legend=dict(orientation="h", y=1.02, yanchor="bottom"))
    return fig
