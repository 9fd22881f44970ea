"""DataFrame -> plotly Figure, nothing else."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

FP_COLOR = "#ff5c5c"
CONV_COLOR = "#4cc9f0"


def _local(ts: pd.Series, tz: str) -> list[str]:
    """UTC-naive timestamps as ISO strings in the viewer's time zone (plotly takes strings)."""
    if ts.empty:
        return []
    local = pd.to_datetime(ts).dt.tz_localize("UTC").dt.tz_convert(tz)
    return local.dt.strftime("%Y-%m-%d %H:%M").tolist()


def fp_vs_conversion(df: pd.DataFrame, *, tz: str = "UTC", flow: str = "deposit",
                     title: str | None = None) -> go.Figure:
    """False-positive rate (left axis) against conversion (right axis), both in percent.

    `df` has columns bucket, false_positive_rate, conversion (rates 0..1).
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
