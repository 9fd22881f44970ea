import json
from datetime import datetime, timedelta


from app import runtime
from app.domain import kpis, metrics
from app.store.schema import LATENCY_EDGES_MS
from tests.ui.apptest import open_page

AT = datetime(2026, 10, 12, 22, 0)  # inside the crash fixture's incident (data: Oct 1 to Oct 13)


def app(params: dict):
    return open_page("ui/pages/war_room.py", params)


def direct(cur, flow, start, end):
    """Every tile's value for [start, end) straight from raw rows."""
    dm = "date_trunc('minute', ts) >= ? AND date_trunc('minute', ts) < ?"
    n, legit, fp, dec, rev = cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_fraud = false), "
        "count(*) FILTER (WHERE is_fraud = false AND decision <> 'approve'), "
        "count(*) FILTER (WHERE decision = 'decline'), count(*) FILTER (WHERE decision = 'review') "
        f"FROM decisions WHERE flow = ? AND {dm}", [flow, start, end]).fetchall()[0]
    lat = [r[0] for r in cur.execute(f"SELECT latency_ms FROM decisions WHERE flow = ? AND {dm}", [flow, start, end]).fetchall()]
    hist = [0] * (len(LATENCY_EDGES_MS) + 1)
    for v in lat:
        hist[next((i for i, e in enumerate(LATENCY_EDGES_MS) if v <= e), len(LATENCY_EDGES_MS))] += 1
    views, starts, done = cur.execute(
        "SELECT count(*) FILTER (WHERE step = 'view'), count(*) FILTER (WHERE step = 'start'), "
        f"count(*) FILTER (WHERE step = 'complete') FROM funnel WHERE flow = ? AND {dm}", [flow, start, end]).fetchall()[0]
    tickets = cur.execute("SELECT count(*) FROM tickets WHERE flow = ? AND date_trunc('minute', opened_at) >= ? "
                          "AND date_trunc('minute', opened_at) < ?", [flow, start, end]).fetchall()[0][0]
    hours = (end - start).total_seconds() / 3600
    return {
        "false_positive_rate": metrics.ratio(fp, legit), "decline_rate": metrics.ratio(dec, n),
        "review_rate": metrics.ratio(rev, n),
        "latency_p95_ms": metrics.percentile_from_histogram(hist, LATENCY_EDGES_MS, 0.95, max_value=max(lat, default=0)),
        "conversion": metrics.ratio(done, starts), "bounce_rate": metrics.ratio(max(views - starts, 0), views),
        "tickets_per_hour": tickets / hours,
    }


def survey(cur, flow, start, end):
    s, n = cur.execute("SELECT sum(score), count(*) FROM surveys WHERE flow = ? AND date_trunc('minute', ts) >= ? "
                       "AND date_trunc('minute', ts) < ?", [flow, start, end]).fetchall()[0]
    return metrics.ratio(s or 0, n)


def test_tiles_equal_direct_queries_with_week_deltas(app_store):
    at = app({"at": AT.isoformat(), "flow": "deposit"})
    cur = runtime.store().cursor()
    end = AT + timedelta(minutes=1)
    now, before = direct(cur, "deposit", end - timedelta(hours=1), end), direct(cur, "deposit", end - timedelta(hours=1, days=7), end - timedelta(days=7))
    now["survey_score"] = survey(cur, "deposit", end - timedelta(hours=24), end)
    before["survey_score"] = survey(cur, "deposit", end - timedelta(hours=24, days=7), end - timedelta(days=7))
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    assert len(shown) == 8
    for k in kpis.KPIS:
        value, delta = shown[k.label]
        assert value == kpis.fmt(k, now[k.key]), k.key
        assert delta == (kpis.fmt_delta(k, now[k.key], before[k.key]) or ""), k.key
    assert float(shown["False-positive rate"][0].rstrip("%")) > 10  # the crash is on
    assert at.title[0].value == "War room · deposit"
    assert any("no alert firing" in c.value for c in at.caption)


def test_chart_draws_incidents_and_flag_changes(app_store):
    store = runtime.open_store(app_store)
    with store.write() as w:
        w.execute("INSERT INTO incidents (title, severity, status, flows, features, started_at, detected_at, created_at) "
                  "VALUES ('Deposit FP spike', 'SEV1', 'mitigated', ['deposit'], ['deposit_fraud_check'], ?, ?, ?)",
                  [AT - timedelta(hours=10), AT - timedelta(hours=9), AT - timedelta(hours=9)])
        w.execute("INSERT INTO flag_changes (changed_at, actor, feature, action, old_state, new_state, reason) "
                  "VALUES (?, 'ana', 'deposit_fraud_check', 'throttle', ?, ?, 'FP spike')",
                  [AT - timedelta(hours=3), json.dumps({"state": "on", "percent": 100}),
                   json.dumps({"state": "throttled", "percent": 30})])
    at = app({"at": AT.isoformat(), "window": "24h"})
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in fig["data"]] == ["False-positive rate", "Deposit conversion", "Flag changes"]
    assert len(fig["data"][0]["x"]) == 96
    rects = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    assert len(rects) == 1 and rects[0]["x0"] == (AT - timedelta(hours=10)).strftime("%Y-%m-%d %H:%M")
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert "SEV1 #1: Deposit FP spike" in texts and "deposit_fraud_check: throttle 30%" in texts
    assert fig["data"][2]["hovertext"] == ["deposit_fraud_check throttle: on 100 -> throttled 30 by ana (FP spike)"]
    # The open incident is listed with its age.
    inc = [d.value for d in at.dataframe if "severity" in d.value.columns][0]
    assert list(inc["title"]) == ["Deposit FP spike"] and list(inc["age"]) == ["10.0 h"]


def test_stale_data_warns_loudly(app_store):
    at = app({"at": (datetime(2026, 10, 13) + timedelta(hours=2)).isoformat()})
    assert at.error and at.error[0].value.startswith("DATA IS STALE: the newest event is 120 minutes old")
    fresh = app({"at": AT.isoformat()})
    assert not fresh.error


def test_query_string_round_trip_and_kiosk(app_store):
    at = app({"flow": "withdrawal", "window": "6h", "at": AT.isoformat()})
    assert at.title[0].value == "War room · withdrawal"
    assert at.selectbox(key="wr_flow").value == "withdrawal"
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(fig["data"][0]["x"]) == 72  # 6 h in 5-minute buckets
    at.selectbox(key="wr_flow").set_value("deposit").run()
    assert at.query_params["flow"] == "deposit" and at.query_params["window"] == "6h"
    assert at.title[0].value == "War room · deposit"
    kiosk = app({"kiosk": "1", "flow": "trade", "at": AT.isoformat()})
    assert len(kiosk.sidebar.selectbox) == 0 and kiosk.title[0].value == "War room · trade"
    assert kiosk.query_params["kiosk"] == "1"
    assert any("display: none" in m.value for m in kiosk.markdown)


def test_new_data_shows_on_the_next_refresh(app_store, tmp_path):
    from app.store.ingest import ingest_files
    from tests.helpers import decision, write_csv
    at = app({"at": AT.isoformat()})
    before = {m.label: m.value for m in at.metric}["Manual-review rate"]
    ts = (AT - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [decision(10_000 + i, ts=ts, decision="review", is_fraud="false") for i in range(300)]
    ingest_files(runtime.store(), [write_csv(tmp_path / "burst.csv", rows)], "decisions")
    at.run()  # what the run_every fragment does on its next tick
    after = {m.label: m.value for m in at.metric}["Manual-review rate"]
    assert float(after.rstrip("%")) > float(before.rstrip("%")) + 20
