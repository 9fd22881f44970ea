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
        return 0
    finally:
        if not args.dir:
            shutil.rmtree(scratch, ignore_errors=True)
