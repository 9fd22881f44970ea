from datetime import datetime, timedelta

import pandas as pd

from app.domain import overview
from app.ui import charts

NOW = datetime(2026, 12, 4, 14, 7, 31)


def test_window_is_last_24h_when_data_is_fresh():
    w = overview.chart_window(now=NOW, newest=NOW - timedelta(minutes=3))
    assert (w.start, w.end, w.note) == (datetime(2026, 12, 3, 14, 8), datetime(2026, 12, 4, 14, 8), None)


def test_window_follows_old_data_and_says_so():
    w = overview.chart_window(now=NOW, newest=datetime(2026, 10, 13, 9, 59, 59))
    assert (w.start, w.end) == (datetime(2026, 10, 12, 10, 0), datetime(2026, 10, 13, 10, 0))
    assert w.note.startswith("No events in the last 24 hours")


def test_align_up():
    assert overview.align_up(datetime(2026, 1, 1, 10, 0), 30) == datetime(2026, 1, 1, 10, 0)
    assert overview.align_up(datetime(2026, 1, 1, 10, 0, 1), 30) == datetime(2026, 1, 1, 10, 30)
    assert overview.align_up(datetime(2026, 1, 1, 23, 45), 30) == datetime(2026, 1, 2, 0, 0)


def test_summary_and_series():
    s = overview.summarize({"n": 100, "n_legit": 80, "n_false_positive": 8, "n_decline": 5, "n_review": 10,
                            "n_view": 500, "n_start": 300, "n_complete": 27})
    assert (s.false_positive_rate, s.conversion, s.decline_rate) == (0.1, 0.09, 0.05)
    assert abs(s.bounce_rate - 0.4) < 1e-12
    counts = pd.DataFrame({"bucket": pd.to_datetime(["2026-12-04 10:00", "2026-12-04 10:30"]),
                           "n_false_positive": [1, 0], "n_legit": [10, 0], "n_complete": [9, 1], "n_start": [100, 50]})
    out = overview.series(counts)
    assert out["false_positive_rate"].iloc[0] == 0.1 and pd.isna(out["false_positive_rate"].iloc[1])
    assert list(out["conversion"]) == [0.09, 0.02]


def test_chart_builder_converts_to_viewer_time_zone_and_percent():
    df = pd.DataFrame({"bucket": pd.to_datetime(["2026-12-04 10:00", "2026-12-04 10:30"]),
                       "false_positive_rate": [0.1, float("nan")], "conversion": [0.09, 0.02]})
    fig = charts.fp_vs_conversion(df, tz="Europe/Berlin", flow="deposit")
    fp, conv = fig.data
    assert list(fp.x) == ["2026-12-04 11:00", "2026-12-04 11:30"]
    assert fp.y[0] == 10.0 and pd.isna(fp.y[1])
    assert list(conv.y) == [9.0, 2.0] and conv.yaxis == "y2"
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.xaxis.title.text == "time (Europe/Berlin)"
    empty = charts.fp_vs_conversion(df.iloc[0:0], tz="UTC")
    assert len(empty.data) == 2 and list(empty.data[0].x) == []
