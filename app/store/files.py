"""Writing tables out in the documented input formats (CSV, Parquet, NDJSON)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def write_table(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "ndjson":
        con = duckdb.connect()
        try:
            con.register("t", table)
            literal = "'" + str(path).replace("'", "''") + "'"
            con.execute(f"COPY (SELECT * FROM t) TO {literal} (FORMAT json)")
        finally:
            con.close()
    else:
        raise ValueError(f"unknown format {fmt!r}; expected csv, parquet or ndjson")

