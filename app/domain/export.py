"""Exports of the current view: CSV safe for spreadsheets, and Parquet."""

from __future__ import annotations

import io

import pandas as pd

FORMULA_START = ("=", "+", "-", "@")


def _escape(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # a spreadsheet shows it as text instead of running it
    return value


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV whose text cells that begin with = + - @ are prefixed with ' (CSV injection)."""
    safe = df.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(_escape)
    safe.columns = [_escape(str(c)) for c in safe.columns]
    return safe.to_csv(index=False).encode("utf-8")


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()
