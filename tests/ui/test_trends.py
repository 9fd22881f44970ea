import json
from datetime import timedelta

import pandas as pd

from app import runtime
from app.domain import drift, trends
from tests.ui.apptest import open_page


def app(params: dict):
    return open_page("ui/pages/trends.py", params)


def window(cur):
    newest = cur.execute("SELECT greatest((SELECT max(ts) FROM decisions), (SELECT max(ts) FROM funnel))").fetchall()[0][0]
    end = newest.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - timedelta(days=7), end


def hourly(cur, start, end, platform=None):
    extra, params = ("AND platform = ?", [platform]) if platform else ("", [])
    d = cur.execute(
        "SELECT time_bucket(INTERVAL 1 HOUR, date_trunc('minute', ts)) b, count(*) FILTER (WHERE is_fraud = false) legit, "
        "count(*) FILTER (WHERE is_fraud = false AND decision <> 'approve') fp FROM decisions "
        f"WHERE flow = 'deposit' AND ts >= ? AND ts < ? {extra} GROUP BY 1", [start, end, *params]).df()
    f = cur.execute(
        "SELECT time_bucket(INTERVAL 1 HOUR, date_trunc('minute', ts)) b, count(*) FILTER (WHERE step = 'start') s, "
        "count(*) FILTER (WHERE step = 'complete') c FROM funnel "
        f"WHERE flow = 'deposit' AND ts >= ? AND ts < ? {extra} GROUP BY 1", [start, end, *params]).df()
    m = d.merge(f, on="b", how="outer").fillna(0)
    fp = (m["fp"] / m["legit"].where(m["legit"] > 0))
    conv = (m["c"] / m["s"].where(m["s"] > 0))
    return fp, conv


def test_elasticity_breakdown_and_comparison_match_direct_queries(app_store):
    at = app({"range": "last 7 days", "flow": "deposit", "grain": "hour"})
    cur = runtime.store().cursor()
    start, end = window(cur)
    fp, conv = hourly(cur, start, end)
    expected = trends.elasticity_text(trends.fit(fp, conv), "deposit")
    assert any(m.value == f"**{expected}**" for m in at.markdown)
    assert "went with -" in expected  # false positives up, conversion down
    scatter = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(len(t["x"]) for t in scatter["data"][:-1]) == len(fp)
    # Breakdown: worst segment first, straight from raw.
    table = [d.value for d in at.dataframe if "platform" in d.value.columns][0]
    seg = cur.execute(
        "SELECT platform, region, count(*) FILTER (WHERE is_fraud = false AND decision <> 'approve') / "
        "count(*) FILTER (WHERE is_fraud = false) AS fp FROM decisions WHERE flow = 'deposit' AND ts >= ? AND ts < ? "
        "GROUP BY ALL ORDER BY fp DESC", [start, end]).fetchall()
    assert (table["platform"].iloc[0], table["region"].iloc[0]) == seg[0][:2]
    assert abs(table["false_positive_rate"].iloc[0] - seg[0][2]) < 1e-12
    # Period comparison: conversion this week vs last week.
    comp = [d.value for d in at.dataframe if "kpi" in d.value.columns][0]
    row = comp[comp["kpi"] == "Conversion"].iloc[0]

    def conv_between(a, b):
        s, c = cur.execute("SELECT count(*) FILTER (WHERE step = 'start'), count(*) FILTER (WHERE step = 'complete') "
                           "FROM funnel WHERE flow = 'deposit' AND ts >= ? AND ts < ?", [a, b]).fetchall()[0]
        return f"{100 * c / s:.2f}%"
    assert row["period_a_text"] == conv_between(end - timedelta(days=7), end)
    assert row["period_b_text"] == conv_between(end - timedelta(days=14), end - timedelta(days=7))


def test_model_health_drift_against_the_week_before(app_store):
    at = app({"range": "last 7 days", "flow": "deposit", "feature": "deposit_fraud_check"})
    cur = runtime.store().cursor()
    start, end = window(cur)

    def hist(a, b):
        rows = dict(cur.execute("SELECT least(floor(score * 10), 9)::INT, count(*) FROM decisions "
                                "WHERE feature = 'deposit_fraud_check' AND date_trunc('minute', ts) >= ? "
                                "AND date_trunc('minute', ts) < ? GROUP BY 1", [a, b]).fetchall())
        return [rows.get(i, 0) for i in range(10)]
    reference = hist(start - timedelta(days=7), start)
    table = [d.value for d in at.dataframe if "psi" in d.value.columns][0]
    first_day = pd.Timestamp(table["bucket"].iloc[0]).to_pydatetime()
    day = hist(max(first_day, start), first_day + timedelta(days=1))
    assert abs(table["psi"].iloc[0] - drift.psi(reference, day)) < 1e-9
    assert abs(table["js_distance"].iloc[0] - drift.js_distance(reference, day)) < 1e-9
    assert table["psi"].max() > 0.25  # the crash shifts the score distribution
    lat = [d.value for d in at.dataframe if "p95" in d.value.columns][0]
    assert list(lat["model_version"]) == ["2026.11.2"] and lat["p95"].iloc[0] > lat["p50"].iloc[0]


def test_filters_live_in_the_query_string(app_store):
    at = app({"range": "last 7 days", "flow": "deposit", "platform": "ios", "grain": "minute"})
    assert at.selectbox(key="tr_platform").value == "ios"
    assert any("· ios ·" in c.value and "per hour" in c.value for c in at.caption)  # 7 days of minutes is too many
    assert at.query_params["platform"] == "ios"
    cur = runtime.store().cursor()
    start, end = window(cur)
    fp, conv = hourly(cur, start, end, platform="ios")
    expected = trends.elasticity_text(trends.fit(fp, conv), "deposit")
    assert any(m.value == f"**{expected}**" for m in at.markdown)
    assert len(at.get("download_button")) == 2
