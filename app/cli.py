"""The `warroom` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app import settings

EXIT_INVALID = 2


def _parse_start(text: str | None, days: float) -> datetime:
    if not text:
        end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        return end - timedelta(days=days)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"--start: {text!r} is not an ISO date (e.g. 2026-11-01 or 2026-11-01T00:00:00Z)")
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _db_path(args) -> Path:
    if getattr(args, "db", None):
        return Path(args.db).expanduser().resolve()
    return settings.get("db")


# --------------------------------------------------------------------------- ingest
class _Progress:
    """A terminal progress bar over ingest stages, for loads worth watching."""

    def __init__(self, paths: list[Path], kind: str) -> None:
        from tqdm import tqdm
        size = sum(p.stat().st_size for p in paths if p.exists())
        # roughly 30 MB/s of CSV end to end on this class of machine
        expected = size / 30e6
        self.bar = None
        if expected >= float(settings.get("progress_seconds")):
            self.bar = tqdm(total=2 * len(paths) + 2, desc=f"ingest {kind}", unit="step", file=sys.stderr,
                            leave=False, disable=None)

    def __call__(self, msg: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(msg[-50:])
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_ingest(args) -> int:
    from app.store import inbox
    from app.store.db import Store, StoreLocked, probe_lock
    from app.store.ingest import IngestError, Problem, ingest_files, ingest_tables, read_file

    db = _db_path(args)
    paths = [Path(p) for p in args.paths]
    progress = _Progress(paths, args.kind)
    try:
        if probe_lock(db):
            raise StoreLocked(str(db))
        with Store(db) as store:
            result = ingest_files(store, paths, args.kind, source="cli", progress=progress)
        progress.close()
        print(result.summary())
        return 0
    except IngestError as exc:
        progress.close()
        print(f"error: {exc.report()}", file=sys.stderr)
        return EXIT_INVALID
    except StoreLocked:
        progress.close()
    # A server holds the store: check the files here (against an empty store, so the
    # error comes at once), then hand them to its inbox as one batch.
    import tempfile
    try:
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise IngestError([Problem(str(p), None, None, None, "file not found") for p in missing])
        tables = [(str(p), read_file(p)) for p in paths]
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "check.duckdb") as scratch:
            ingest_tables(scratch, args.kind, tables, source="check")
    except IngestError as exc:
        print(f"error: {exc.report()}", file=sys.stderr)
        return EXIT_INVALID
    box = settings.inbox_dir(db)
    entry = inbox.drop(box, args.kind, paths)
    print(f"{db} is held by a running server: queued {len(paths)} file(s) in its inbox as {entry}; "
          f"the server ingests them within seconds (see {box / 'processed' / args.kind} "
          f"or {box / 'rejected' / args.kind}).")
    return 0


# --------------------------------------------------------------------------- simulate
def load_simulated(db: Path, tables: dict, *, source: str) -> list:
    """Load simulated tables into the store (or its server's inbox when held)."""
    from app.store import inbox
    from app.store.db import Store, StoreLocked
    from app.store.ingest import ingest_tables
    try:
        with Store(db) as store:
            return [ingest_tables(store, kind, [(f"{source}:{kind}", t)], source=source)
                    for kind, t in tables.items()]
    except StoreLocked:
        import pyarrow.parquet as pq
        box = settings.inbox_dir(db)
        for kind, t in tables.items():
            inbox.write_file(box, kind, f"{source}-{int(time.time() * 1000)}-{kind}.parquet",
                             lambda p, t=t: pq.write_table(t, p))
        print(f"{db} is held by a running server: wrote the simulated data to its inbox {box}")
        return []


def cmd_simulate(args) -> int:
    from app.sim.generator import simulate, write_truth
    from app.sim.live import LiveFeed
    from app.sim.scenarios import SCENARIOS, get_scenario
    from app.store.files import write_table

    if args.scenario not in SCENARIOS:
        print(f"error: unknown scenario {args.scenario!r}; expected one of: {', '.join(SCENARIOS)}",
              file=sys.stderr)
        return EXIT_INVALID
    if not (args.out or args.db):
        print("error: give --out DIR or --db PATH", file=sys.stderr)
        return EXIT_INVALID
    start = _parse_start(args.start, args.days)
    t0 = time.perf_counter()
    tables, truth = simulate(args.scenario, start, args.days, seed=args.seed, scale=args.scale)
    rows = {k: t.num_rows for k, t in tables.items()}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        ext = {"csv": "csv", "parquet": "parquet", "ndjson": "ndjson"}[args.format]
        for kind, table in tables.items():
            write_table(table, out / f"{kind}.{ext}", args.format)
        write_truth(out / "truth.json", truth)
        print(f"wrote {', '.join(f'{v} {k}' for k, v in rows.items())} rows and truth.json to {out} "
              f"({time.perf_counter() - t0:.1f} s)")
    if args.db:
        db = Path(args.db).expanduser().resolve()
        for r in load_simulated(db, tables, source=f"simulate:{args.scenario}"):
            print(r.summary())
        write_truth(db.with_name(db.stem + "-truth.json"), truth)
    if args.live:
        end = start.timestamp() + args.days * 86400
        scn = get_scenario(args.scenario, start.timestamp(), end, args.seed)
        db = Path(args.db).expanduser().resolve() if args.db else settings.get("db")
        box = settings.inbox_dir(db)
        feed = LiveFeed(scn, box, seed=args.seed, scale=args.scale, speed=args.speed,
                        t_start=max(end, time.time()) if args.speed == 1 else end)
        feed.prime(start.timestamp(), end)
        print(f"live feed: writing events into {box} at {args.speed:g}x real time; Ctrl-C stops")
        try:
            feed.run()
        except KeyboardInterrupt:
            pass
        print(f"live feed stopped after {feed.files_written} files")
    return 0


# --------------------------------------------------------------------------- serve / demo
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def sign_in_configured(db: Path) -> bool:
    """OpenID Connect in secrets.toml, or local accounts in the store."""
    if settings.oidc_configured():
        return True
    from app.store.db import Store, probe_lock
    if not db.exists() or probe_lock(db):
        return False
    from app.domain.accounts import has_accounts
    with Store(db) as s:
        return has_accounts(s)


def serve(db: Path, host: str, port: int, *, live=None, headless: bool = True) -> int:
    from streamlit.web import bootstrap

    from app import runtime, worker as worker_mod
    from app.domain import flags

    if host not in LOOPBACK and not host.startswith("127.") and not sign_in_configured(db):
        print(f"error: refusing to serve on {host} without sign-in: configure [auth] in .streamlit/secrets.toml "
              "or add local accounts with `warroom user add`, or serve on 127.0.0.1", file=sys.stderr)
        return EXIT_INVALID
    os.environ["WARROOM_DB"] = str(db)
    store = runtime.open_store(db)
    flags.write_flag_file(store)
    wk = worker_mod.Worker(store, settings.inbox_dir(db)).start()
    worker_mod.set_current(wk)
    if live is not None:
        live.start()
    main_script = str(Path(__file__).with_name("main.py"))
    flags = {
        "server_address": host, "server_port": port, "server_headless": headless,
        "server_fileWatcherType": "none", "server_runOnSave": False,
        "browser_gatherUsageStats": False, "global_developmentMode": False,
        "client_toolbarMode": "viewer", "theme_base": "dark",
    }
    print(f"warroom: serving {db} on http://{host}:{port}", flush=True)
    try:
        bootstrap.load_config_options(flags)
        bootstrap.run(main_script, False, [], flags)
    finally:
        if live is not None:
            live.stop()
        wk.stop()
        runtime.close_store()
    return 0


def cmd_serve(args) -> int:
    return serve(_db_path(args), args.host or settings.get("host"), args.port or settings.get("port"))


DEMO_SCENARIO = "market-crash-with-history"
DEMO_DAYS = 30
DEMO_SEED = 7
DEMO_SCALE = 0.5


def cmd_demo(args) -> int:
    from app.sim.generator import simulate, write_truth
    from app.sim.live import LiveFeed
    from app.sim.scenarios import get_scenario
    from app.store.db import Store
    from app.store.queries import has_decisions

    db = _db_path(args)
    truth_path = db.with_name(db.stem + "-truth.json")
    empty = True
    if db.exists():
        with Store(db) as s:
            empty = not has_decisions(s)
    if empty or not truth_path.exists():
        start = _parse_start(None, DEMO_DAYS)
        t0 = time.perf_counter()
        print(f"building the demo store {db}: {DEMO_DAYS} days of '{DEMO_SCENARIO}' ending now ...", flush=True)
        tables, truth = simulate(DEMO_SCENARIO, start, DEMO_DAYS, seed=DEMO_SEED, scale=DEMO_SCALE)
        for r in load_simulated(db, tables, source="demo"):
            print("  " + r.summary())
        write_truth(truth_path, truth)
        print(f"demo store ready in {time.perf_counter() - t0:.0f} s", flush=True)
    from app.domain import alerts, flags
    from app.sim.history import log_truth_incidents
    truth = json.loads(truth_path.read_text())
    with Store(db) as s:
        flags.seed_simulator_features(s)
        alerts.seed_default_rules(s)
        logged = log_truth_incidents(s, truth)
        if logged:
            print(f"logged the simulated incidents {', '.join(f'#{i}' for i in logged)} (see the ROI pages)")
    t0 = datetime.fromisoformat(truth["start"].replace("Z", "+00:00")).timestamp()
    t1 = datetime.fromisoformat(truth["end"].replace("Z", "+00:00")).timestamp()
    scn = get_scenario(truth["scenario"], t0, t1, truth["seed"])
    live = LiveFeed(scn, settings.inbox_dir(db), seed=truth["seed"], scale=truth["scale"],
                    t_start=max(t1, time.time()))
    live.prime(t0, t1)
    from app.notify.logreceiver import LogReceiver
    if not any(os.environ.get(v) for v in ("WARROOM_SLACK_WEBHOOK_URL", "WARROOM_WEBHOOK_URL",
                                           "WARROOM_PAGERDUTY_ROUTING_KEY")):
        receiver = LogReceiver(db.with_name("notifications.log")).start()
        os.environ["WARROOM_SLACK_WEBHOOK_URL"] = receiver.url + "/slack"
        os.environ["WARROOM_WEBHOOK_URL"] = receiver.url + "/webhook"
        print(f"no alert channel configured: notifications go to {receiver.log_path} (a local receiver)")
    return serve(db, args.host or settings.get("host"), args.port or settings.get("port"), live=live)


# --------------------------------------------------------------------------- bench / settings
def cmd_bench(args) -> int:
    from app import bench
    return bench.run(args)


def cmd_user(args) -> int:
    import getpass

    from app.domain.accounts import AccountError, add_user
    from app.store.db import Store, StoreLocked

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(f"password for {args.name}: ")
    try:
        with Store(_db_path(args)) as s:
            add_user(s, name=args.name, role=args.role, password=password)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except StoreLocked as exc:
        print(f"error: {exc}; stop the server to add users", file=sys.stderr)
        return EXIT_INVALID
    print(f"user {args.name} ({args.role}) saved")
    return 0


def cmd_features(args) -> int:
    from app.domain import flags
    from app.store.db import Store

    with Store(_db_path(args)) as s:
        if args.action == "seed":
            print(f"registered {flags.seed_simulator_features(s)} feature(s)")
        for _, f in flags.features(s).iterrows():
            print(f"{f['feature']:24} {f['flow']:18} {f['model']} {f['active_version']:10} {f['state']:9} "
                  f"{f['percent']:3}%  fallback {f['fallback']}")
    return 0


def cmd_backtest(args) -> int:
    import csv as _csv

    import numpy as np
    import pandas as pd

    from app.domain import detect

    if args.list:
        for d in detect.DETECTORS.values():
            print(f"{d.name:16} {d.description}" + ("  [default]" if d.name == detect.DEFAULT else ""))
        return 0
    if not args.input or not args.out:
        print("error: give INPUT.csv and --out OUT.csv (or --list)", file=sys.stderr)
        return EXIT_INVALID
    if args.detector not in detect.DETECTORS:
        print(f"error: unknown detector {args.detector!r}; expected one of: {', '.join(detect.DETECTORS)}",
              file=sys.stderr)
        return EXIT_INVALID
    path = Path(args.input)
    problems = []
    try:
        with open(path, newline="") as fh:
            rows = list(_csv.reader(fh))
    except OSError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not rows or [h.strip() for h in rows[0][:2]] != ["timestamp", "value"]:
        problems.append(f"{path}: the header must be timestamp,value")
    ts, vals = [], []
    for n, row in enumerate(rows[1:], start=1):
        if len(row) < 2:
            problems.append(f"{path}, row {n}: expected 2 columns, got {len(row)}")
            continue
        t = pd.to_datetime(row[0].strip(), utc=True, errors="coerce")
        if pd.isna(t):
            problems.append(f"{path}, row {n}, column timestamp: value {row[0]!r}: is not a date and time")
        v = row[1].strip()
        try:
            fv = float(v) if v else float("nan")
        except ValueError:
            problems.append(f"{path}, row {n}, column value: value {v!r}: is not a number")
            fv = float("nan")
        ts.append(t)
        vals.append(fv)
    if problems:
        print(f"error: {len(problems)} problem(s); nothing was written.", file=sys.stderr)
        for p_ in problems[:20]:
            print("  " + p_, file=sys.stderr)
        return EXIT_INVALID
    stamps = np.array([t.tz_convert(None).to_datetime64() for t in ts])
    scores = detect.score(args.detector, np.array(vals), stamps)
    out = pd.DataFrame({"timestamp": [r[0] for r in rows[1:]], "value": [r[1] for r in rows[1:]],
                        "anomaly_score": np.round(scores, 6), "alert": scores >= args.threshold})
    out["alert"] = out["alert"].map({True: "true", False: "false"})
    out.to_csv(args.out, index=False)
    print(f"{args.detector}: {len(out)} rows scored, {detect.episodes(scores >= args.threshold)} alert episode(s); "
          f"wrote {args.out}")
    return 0


# --------------------------------------------------------------------------- roi / report
def _open_store(args):
    """The store for a read-only command; None after printing why not (missing file, held by a server)."""
    from app.store.db import Store, StoreLocked
    db = _db_path(args)
    if not db.exists():
        print(f"error: no store at {db}", file=sys.stderr)
        return None
    try:
        return Store(db, read_only=True)
    except StoreLocked as exc:
        print(f"error: {exc}; a running server holds the store: use its ROI pages "
              "(the quarter page has the board-report download), or stop it first", file=sys.stderr)
        return None


def _parse_time(name: str, text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"{name}: {text!r} is not an ISO date or time (e.g. 2026-11-01T00:00:00Z)")
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


def cmd_roi(args) -> int:
    from app.domain import incidents, roi
    from app.store.db import utcnow
    from app.store.queries import newest_event

    if (args.incident is None) == (args.flow is None):
        print("error: give --incident ID, or --flow F --start T --end T", file=sys.stderr)
        return EXIT_INVALID
    if args.flow is not None and not (args.start and args.end):
        print("error: --flow needs --start and --end", file=sys.stderr)
        return EXIT_INVALID
    store = _open_store(args)
    if store is None:
        return EXIT_INVALID
    with store:
        try:
            now = newest_event(store) or utcnow()
            if args.incident is not None:
                inc = incidents.get(store, args.incident)
                imp = roi.estimate_incident(store, inc, now=now, flow=args.flow_of_incident)
            else:
                imp = roi.estimate(store, flow=args.flow, start=_parse_time("--start", args.start),
                                   end=_parse_time("--end", args.end))
        except (roi.RoiError, incidents.IncidentError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INVALID
    data = imp.to_json()
    if args.json:
        if not args.buckets:
            data.pop("buckets")
        print(json.dumps(data, indent=2))
        return 0
    print(roi.summary_text(data))
    return 0


def cmd_report(args) -> int:
    from app import report
    from app.domain import quarter
    from app.store.db import utcnow
    from app.store.queries import newest_event

    try:
        quarter.parse_quarter(args.quarter)
    except ValueError as exc:
        print(f"error: --quarter: {exc}", file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out)
    fmt = args.format or ("pdf" if out.suffix.lower() == ".pdf" else "html")
    store = _open_store(args)
    if store is None:
        return EXIT_INVALID
    with store:
        try:
            r = report.build(store, args.quarter.upper(), now=newest_event(store) or utcnow(),
                             scenario_names=args.scenario or None, budget_usd=args.budget)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INVALID
    try:
        data = report.to_pdf(r) if fmt == "pdf" else report.to_html(r).encode()
    except report.ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    from app.fsutil import atomic_write
    atomic_write(out, lambda p: p.write_bytes(data))
    t = r.totals
    print(f"wrote the {fmt.upper()} board report for {r.quarter} to {out} ({len(data) / 1e6:.1f} MB): "
          f"{t['incidents']} incident(s), total cost {report.money(t['total_cost'])}")
    return 0


def cmd_settings(args) -> int:
    for s in settings.SETTINGS.values():
        print(f"{s.env}={os.environ.get(s.env, s.default)!s}\n    {s.help} (default: {s.default!r})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="warroom", description="The operations room for ML-powered features.")
    sub = p.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="validate and load input files (all or nothing)")
    ing.add_argument("paths", nargs="+", metavar="PATH")
    ing.add_argument("--kind", required=True, choices=["decisions", "funnel", "tickets", "surveys", "metrics"])
    ing.add_argument("--db", help="store file (default: setting WARROOM_DB)")
    ing.set_defaults(func=cmd_ingest)

    sim = sub.add_parser("simulate", help="write simulated traffic with a crisis scenario")
    sim.add_argument("--scenario", required=True)
    sim.add_argument("--start", help="ISO date or time (UTC if no offset); default: DAYS before now")
    sim.add_argument("--days", type=float, default=30.0)
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--scale", type=float, default=1.0, help="traffic multiplier (1 = about 3 decisions/min on deposit)")
    sim.add_argument("--out", help="folder for the five kinds and truth.json")
    sim.add_argument("--format", choices=["csv", "parquet", "ndjson"], default="csv")
    sim.add_argument("--db", help="load straight into this store (or its server's inbox)")
    sim.add_argument("--live", action="store_true", help="then keep writing events into the inbox")
    sim.add_argument("--speed", type=float, default=1.0, help="with --live: simulated seconds per real second")
    sim.set_defaults(func=cmd_simulate)

    srv = sub.add_parser("serve", help="run the app and the worker in one process")
    srv.add_argument("--db")
    srv.add_argument("--host")
    srv.add_argument("--port", type=int)
    srv.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="build the demo store if missing, then serve it with a live feed")
    demo.add_argument("--db")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks (speed targets live here, not in tests)")
    bench.add_argument("what", choices=["ingest", "pages", "detect", "roi"])
    bench.add_argument("--incidents", type=int, default=50, help="roi: simulated incidents to estimate")
    bench.add_argument("--seed", type=int, default=100, help="roi: first seed of the simulated runs")
    bench.add_argument("--scale", type=float, default=3.0, help="detect: simulated traffic multiplier")
    bench.add_argument("--rows", type=int, default=10_000_000, help="ingest: rows in the file")
    bench.add_argument("--sizes", default="1M,10M,50M", help="pages: store sizes in decision events")
    bench.add_argument("--dir", help="scratch folder (default: a temporary one)")
    bench.set_defaults(func=cmd_bench)

    usr = sub.add_parser("user", help="local accounts (when no OpenID provider is configured)")
    usr.add_argument("action", choices=["add"])
    usr.add_argument("name")
    usr.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    usr.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    usr.add_argument("--db")
    usr.set_defaults(func=cmd_user)

    fe = sub.add_parser("features", help="list the ML features, or register the simulator's")
    fe.add_argument("action", choices=["list", "seed"])
    fe.add_argument("--db")
    fe.set_defaults(func=cmd_features)

    bt = sub.add_parser("backtest", help="score a timestamp,value series with an anomaly detector")
    bt.add_argument("input", nargs="?", metavar="INPUT.csv")
    bt.add_argument("--detector", default="seasonal_robust")
    bt.add_argument("--out", metavar="OUT.csv")
    bt.add_argument("--threshold", type=float, default=0.5, help="score at or above which a row is an alert")
    bt.add_argument("--list", action="store_true", help="list the detectors")
    bt.set_defaults(func=cmd_backtest)

    r = sub.add_parser("roi", help="what an incident (or any window of a flow) cost, against its counterfactual")
    r.add_argument("--db")
    r.add_argument("--incident", type=int, metavar="ID")
    r.add_argument("--flow-of-incident", metavar="FLOW", help="with --incident: a flow other than its first")
    r.add_argument("--flow", metavar="F")
    r.add_argument("--start", metavar="T", help="ISO time (UTC when no offset)")
    r.add_argument("--end", metavar="T")
    r.add_argument("--json", action="store_true", help="print the JSON documented in the README")
    r.add_argument("--buckets", action="store_true", help="with --json: include the per-bucket series")
    r.set_defaults(func=cmd_roi)

    rep = sub.add_parser("report", help="the board report of a quarter: self-contained HTML, or PDF")
    rep.add_argument("--quarter", required=True, help="e.g. 2026Q3")
    rep.add_argument("--out", required=True, metavar="FILE", help="FILE.html or FILE.pdf")
    rep.add_argument("--format", choices=["html", "pdf"], help="default: from the file's suffix (html otherwise)")
    rep.add_argument("--scenario", action="append", metavar="NAME",
                     help="a saved budget scenario to compare (repeatable; default: all saved, else the presets)")
    rep.add_argument("--budget", type=float, default=250_000.0, help="yearly total for the preset scenarios")
    rep.add_argument("--db")
    rep.set_defaults(func=cmd_report)

    st = sub.add_parser("settings", help="list every setting with its current value")
    st.set_defaults(func=cmd_settings)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
