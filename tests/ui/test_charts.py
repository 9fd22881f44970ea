"""Chart builders as pure functions: DataFrame in, figure out."""

import pandas as pd

from app.domain import trends
from app.ui import charts


def test_war_room_chart_has_incident_regions_and_flag_markers():
    df = pd.DataFrame({"bucket": pd.date_range("2026-11-28 10:00", periods=4, freq="15min"),
                       "false_positive_rate": [0.02, 0.1, 0.15, 0.05], "conversion": [0.09, 0.05, 0.03, 0.08]})
    inc = pd.DataFrame([{"id": 7, "title": "FP spike", "severity": "SEV1", "began": pd.Timestamp("2026-11-28 10:10"),
                         "resolved_at": pd.NaT}])
    markers = pd.DataFrame([{"changed_at": pd.Timestamp("2026-11-28 10:31"), "label": "deposit_fraud_check: throttle 20%",
                             "detail": "throttle: on 100 -> throttled 20 by ana (FP spike)"}])
    fig = charts.fp_vs_conversion(df, tz="UTC", flow="deposit", incidents=inc, markers=markers,
                                  window=(pd.Timestamp("2026-11-28 10:00"), pd.Timestamp("2026-11-28 11:00")))
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(rects) == 1 and rects[0].x0 == "2026-11-28 10:10" and rects[0].x1 == "2026-11-28 11:00"
    assert len(lines) == 1 and lines[0].x0 == "2026-11-28 10:31"
    texts = [a.text for a in fig.layout.annotations]
    assert "SEV1 #7: FP spike" in texts and "deposit_fraud_check: throttle 20%" in texts
    names = [t.name for t in fig.data]
    assert names == ["False-positive rate", "Deposit conversion", "Flag changes"]
    assert list(fig.data[2].hovertext) == ["throttle: on 100 -> throttled 20 by ana (FP spike)"]


def test_scatter_one_trace_per_period_and_fit_line():
    df = pd.DataFrame({"false_positive_rate": [0.01, 0.02, 0.10, 0.15], "conversion": [0.09, 0.088, 0.05, 0.03],
                       "period": ["calm", "calm", "crash", "crash"]})
    f = trends.fit(df["false_positive_rate"], df["conversion"])
    fig = charts.fp_conversion_scatter(df, flow="deposit", fit=f)
    assert [t.name for t in fig.data][:2] == ["calm", "crash"]
    assert list(fig.data[1].x) == [10.0, 15.0] and list(fig.data[1].y) == [5.0, 3.0]
    line = fig.data[2]
    assert line.mode == "lines" and line.x == (1.0, 15.0)
    assert abs(line.y[1] - (f.intercept + f.slope * 15.0)) < 1e-9


def test_model_health_charts():
    fig = charts.score_distribution([50, 50, 0], [0, 50, 50], labels=["a", "b", "c"])
    assert list(fig.data[0].y) == [50.0, 50.0, 0.0] and list(fig.data[1].y) == [0.0, 50.0, 50.0]
    d = pd.DataFrame({"bucket": pd.to_datetime(["2026-11-01", "2026-11-02"]), "psi": [0.01, 0.4],
                      "js_distance": [0.02, 0.3]})
    fig = charts.drift_over_time(d, tz="UTC")
    assert [t.name for t in fig.data] == ["PSI", "Jensen-Shannon distance"] and fig.data[1].yaxis == "y2"
    lat = pd.DataFrame({"model_version": ["3.4.0", "3.5.0"], "p50": [40.0, 70.0], "p95": [90.0, 160.0],
                        "p99": [120.0, 210.0]})
    fig = charts.latency_percentiles(lat)
    assert [t.name for t in fig.data] == ["p50", "p95", "p99"] and list(fig.data[1].y) == [90.0, 160.0]
