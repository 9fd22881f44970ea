"""`warroom bench ...`: speed measured as ratios within one run (never a timed test)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import duckdb


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds / 1e6:6.2f} M rows/s"


def bench_ingest(rows: int, scratch: Path) -> list[dict]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from app.sim import bulk
    from app.store.db import Store
    from app.store.ingest import ingest_files

    print(f"generating {rows:,} decisions ...", flush=True)
    table = bulk.decisions(rows)
    files = {"parquet": scratch / "decisions.parquet", "csv": scratch / "decisions.csv"}
    pq.write_table(table, files["parquet"])
    pacsv.write_csv(table, files["csv"])
    del table
    results = []
    for fmt, path in files.items():
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        base_db = scratch / f"duckdb-{fmt}.duckdb"
        con = duckdb.connect(str(base_db))
        t0 = time.perf_counter()
        con.execute(f"CREATE TABLE decisions AS SELECT * FROM {reader}(?)", [str(path)])
        con.execute("CHECKPOINT")
        base = time.perf_counter() - t0
        con.close()
        store_path = scratch / f"warroom-{fmt}.duckdb"
        with Store(store_path) as store:
            t0 = time.perf_counter()
            res = ingest_files(store, [path], "decisions", source="bench")
            store.cursor().execute("CHECKPOINT")
            ours = time.perf_counter() - t0
        assert res.rows_new == rows, res.summary()
        results.append({"format": fmt, "rows": rows, "duckdb_s": base, "warroom_s": ours,
                        "ratio": base / ours, "size_mb": path.stat().st_size / 1e6})
        for p in (base_db, store_path):
            p.unlink(missing_ok=True)
    return results


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _build_pages_store(path: Path, n: int, end: float, days: float = 30.0, chunk: int = 5_000_000) -> None:
    from app.sim import bulk
    from app.store.db import Store
    from app.store.ingest import ingest_tables

    chunks = max(1, -(-n // chunk))
    span = days / chunks
    start0 = end - days * 86400
    with Store(path) as store:
        for i in range(chunks):
            rows = min(chunk, n - i * chunk)
            t0 = start0 + i * span * 86400
            for kind, table in (("decisions", bulk.decisions(rows, seed=100 + i, start=t0, days=span)),
                                ("funnel", bulk.funnel(rows, seed=200 + i, start=t0, days=span))):
                ingest_tables(store, kind, [(f"bench-{kind}-{i}", table)], source="bench")
            print(f"  built {min(n, (i + 1) * chunk):,} of {n:,} decisions (+ as many funnel events)", flush=True)
        store.cursor().execute("CHECKPOINT")


def bench_pages(sizes: list[int], scratch: Path) -> list[dict]:
    """Per store size: the war-room and trends data queries, their plain raw-scan equivalent, full AppTest runs."""
    import os
    from datetime import timedelta

    from streamlit.testing.v1 import AppTest

    from app import runtime
    from app.domain import kpis, warroom
    from app.store import queries
    from app.store.db import utcnow

    main = str(Path(__file__).with_name("main.py"))
    results = []
    for n in sizes:
        path = scratch / f"pages-{n}.duckdb"
        print(f"building a store of {n:,} decisions ...", flush=True)
        _build_pages_store(path, n, end=time.time())
        os.environ["WARROOM_DB"] = str(path)
        runtime.close_store()
        store = runtime.open_store(path)
        now = utcnow()
        seg = queries.Segment(flow="deposit")
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)

        def war_room_numbers():  # the tiles and the chart series: what the raw scan also computes
            kpis.tile_values(store, seg, end=end)
            s, e, bucket = warroom.chart_range(end=now, window="24h")
            queries.series(store, seg, start=s, end=e, bucket=bucket)

        def war_room_data():  # everything the page reads
            queries.newest_event(store, until=now)
            war_room_numbers()
            s, e, bucket = warroom.chart_range(end=now, window="24h")
            queries.incidents_overlapping(store, start=s, end=e, flow="deposit")
            queries.flag_changes_between(store, start=s, end=e, features=queries.features_of_flow(store, "deposit"))
            queries.feature_states(store), queries.open_incidents(store), queries.firing_alerts(store)

        def war_room_raw():
            for hours in sorted({k.tile_hours for k in kpis.KPIS}):
                (a0, a1), (b0, b1) = kpis.tile_windows(end=end, length=timedelta(hours=hours))
                queries.raw_window_counts(store, "deposit", start=a0, end=a1)
                queries.raw_window_counts(store, "deposit", start=b0, end=b1)
            s, e, bucket = warroom.chart_range(end=now, window="24h")
            queries.raw_series(store, "deposit", start=s, end=e, bucket=bucket)

        week0, week1 = end - timedelta(days=7), end

        def trends_numbers():
            queries.series(store, seg, start=week0, end=week1, bucket="1h")
            queries.window_sums(store, seg, start=week0, end=week1)
            queries.window_sums(store, seg, start=week0 - timedelta(days=7), end=week0)

        def trends_data():
            queries.segment_options(store)
            trends_numbers()
            queries.breakdown(store, seg, start=week0, end=week1)
            feature = queries.features_of_flow(store, "deposit")[0]
            queries.score_histograms(store, feature=feature, model_version=None, start=week0 - timedelta(days=7),
                                     end=week0)
            queries.score_histograms(store, feature=feature, model_version=None, start=week0, end=week1)
            queries.latency_by_version(store, feature=feature, start=week0, end=week1)

        def trends_raw():
            queries.raw_series(store, "deposit", start=week0, end=week1, bucket="1h")
            queries.raw_window_counts(store, "deposit", start=week0, end=week1)
            queries.raw_window_counts(store, "deposit", start=week0 - timedelta(days=7), end=week0)

        row = {"n": n, "war_room_all_s": _best(war_room_data), "war_room_s": _best(war_room_numbers),
               "war_room_raw_s": _best(war_room_raw), "trends_all_s": _best(trends_data),
               "trends_s": _best(trends_numbers), "trends_raw_s": _best(trends_raw)}
        for page, key in (("ui/pages/war_room.py", "war_room_apptest_s"), ("ui/pages/trends.py", "trends_apptest_s")):
            at = AppTest.from_file(main, default_timeout=600)
            at.run()
            at.switch_page(page)
            t0 = time.perf_counter()
            at.run()
            row[key] = time.perf_counter() - t0
            if at.exception:
                raise RuntimeError(f"{page} raised: {at.exception[0].value}")
        results.append(row)
        runtime.close_store()
        path.unlink(missing_ok=True)
        Path(str(path) + ".wal").unlink(missing_ok=True)
    return results


def bench_detect(scale: float, scratch: Path) -> list[dict]:
    """Detection delay per scenario and false alarms per calm week, per detector."""
    from datetime import datetime, timedelta, timezone

    import numpy as np

    from app.domain import detect, metrics
    from app.sim.generator import simulate
    from app.store import queries
    from app.store.db import Store
    from app.store.ingest import ingest_tables

    cases = [  # scenario, days, flow, metric
        ("decline-spike", 8, "withdrawal", "decline_rate"),
        ("market-crash-false-positives", 10, "deposit", "false_positive_rate"),
        ("lending-model-delay", 10, "loan_application", "conversion"),
        ("calm", 7, "withdrawal", "decline_rate"),
        ("calm", 7, "deposit", "false_positive_rate"),
        ("calm", 7, "deposit", "conversion"),
    ]
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    out = []
    built: dict[tuple, tuple] = {}
    for scenario, days, flow, metric in cases:
        if (scenario, days) not in built:
            tables, truth = simulate(scenario, start, days, seed=5, scale=scale)
            path = scratch / f"detect-{scenario}.duckdb"
            store = Store(path)
            for kind, t in tables.items():
                ingest_tables(store, kind, [(kind, t)], source="bench")
            built[(scenario, days)] = (store, truth)
        store, truth = built[(scenario, days)]
        t0 = start.replace(tzinfo=None)
        counts = queries.series(store, queries.Segment(flow=flow), start=t0, end=t0 + timedelta(days=days), bucket="1m")
        r = metrics.add_funnel_rates(metrics.add_decision_rates(counts))
        ts = r["bucket"].to_numpy()
        x = r[metric].to_numpy(dtype=float)
        inc = truth["incidents"][0] if truth["incidents"] else None
        kn = {"decline_rate": ("n_decline", "n"), "false_positive_rate": ("n_false_positive", "n_legit"),
              "conversion": ("n_complete", "n_start")}[metric]
        for name in [*detect.DETECTORS, "binomial"]:
            t1 = time.perf_counter()
            if name == "binomial":
                alerts = detect.binomial(r[kn[0]].to_numpy(), r[kn[1]].to_numpy()) >= 0.5
            else:
                alerts = detect.score(name, x, ts) >= 0.5
            seconds = time.perf_counter() - t1
            warm = ts >= ts[0] + np.timedelta64(1, "D")  # one day to learn
            row = {"scenario": scenario, "series": f"{flow} {metric} per minute", "detector": name,
                   "seconds": seconds, "points": len(x)}
            if inc is None:
                row["false_alarms_per_week"] = detect.episodes(alerts[warm]) / (days - 1) * 7
            else:
                s = np.datetime64(datetime.fromisoformat(inc["start"].replace("Z", "")))
                before = warm & (ts < s)
                hits = np.nonzero(alerts & (ts >= s))[0]
                row["delay_min"] = (ts[hits[0]] - s) / np.timedelta64(1, "m") if len(hits) else None
                row["false_alarms_before"] = detect.episodes(alerts[before])
            out.append(row)
    for store, _ in built.values():
        store.close()
    return out


def run(args) -> int:
    scratch = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        if args.what == "ingest":
            results = bench_ingest(args.rows, scratch)
            print()
            print("ingest of decisions (validation + dedupe + rollups, one transaction) vs DuckDB "
                  "loading the same file straight into a table, same machine, same run:")
            print(f"{'format':8} {'rows':>12} {'file MB':>9} {'duckdb':>18} {'warroom':>18} {'ratio':>7}")
            for r in results:
                print(f"{r['format']:8} {r['rows']:>12,} {r['size_mb']:>9.0f} "
                      f"{_rate(r['rows'], r['duckdb_s'])} {_rate(r['rows'], r['warroom_s'])} {r['ratio']:>7.2f}")
            print("target: ratio >= 0.50 for parquet")
        elif args.what == "detect":
            results = bench_detect(args.scale, scratch)
            print()
            print(f"detectors on simulated 1-minute series (scale {args.scale:g}); delay from the injected start,")
            print("false alarms = alert episodes after a day of learning:")
            print(f"{'scenario':30} {'series':38} {'detector':16} {'delay':>9} {'false alarms':>14} {'time':>7}")
            for r in results:
                if "delay_min" in r:
                    delay = "missed" if r["delay_min"] is None else f"{r['delay_min']:.0f} min"
                    fa = f"{r['false_alarms_before']} before"
                else:
                    delay, fa = "", f"{r['false_alarms_per_week']:.1f} / week"
                print(f"{r['scenario']:30} {r['series']:38} {r['detector']:16} {delay:>9} {fa:>14} "
                      f"{r['seconds']:>6.2f}s")
            print("targets: decline-spike within 3 minutes; at most one false alarm per calm week per rule")
        elif args.what == "roi":
            from app import bench_roi
            print(f"simulating {args.incidents} incidents with known injected effects ...", flush=True)
            bench_roi.report(bench_roi.bench_roi(incidents=args.incidents, per_run=8, seed=args.seed,
                                                 scratch=scratch))
        elif args.what == "pages":
            sizes = [int(float(x.rstrip("Mm")) * 1_000_000) if x[-1] in "Mm" else int(x)
                     for x in args.sizes.split(",")]
            results = bench_pages(sizes, scratch)
            print()
            print("data queries of each page (best of 3, warm): all its reads, and the tile/series numbers alone")
            print("against the same numbers from a plain scan of the raw tables (ratio = raw / rollups);")
            print("then one full AppTest run of each page. Same machine, same run.")
            print(f"{'decisions':>12} | {'war room: all':>13} {'numbers':>8} {'raw':>8} {'ratio':>6} | "
                  f"{'trends: all':>11} {'numbers':>8} {'raw':>8} {'ratio':>6} | {'AppTest wr':>10} {'trends':>7}")
            for r in results:
                ms = lambda k: f"{r[k] * 1000:.0f}ms"
                print(f"{r['n']:>12,} | {ms('war_room_all_s'):>13} {ms('war_room_s'):>8} {ms('war_room_raw_s'):>8} "
                      f"{r['war_room_raw_s'] / r['war_room_s']:>6.1f} | {ms('trends_all_s'):>11} {ms('trends_s'):>8} "
                      f"{ms('trends_raw_s'):>8} {r['trends_raw_s'] / r['trends_s']:>6.1f} | "
                      f"{r['war_room_apptest_s']:>9.2f}s {r['trends_apptest_s']:>6.2f}s")
            print("target: war-room data under 100 ms at 50M events, growing far slower than the event count")
        return 0
    finally:
        if not args.dir:
            shutil.rmtree(scratch, ignore_errors=True)
