"""Saved budget scenarios (allocation and assumptions as JSON text)."""

from __future__ import annotations

from datetime import datetime

from app.store.control import _row, _rows


def all_scenarios(cur) -> list[dict]:
    return _rows(cur, "SELECT * FROM budget_scenarios ORDER BY name", [])


def get(cur, name: str) -> dict | None:
    return _row(cur, "SELECT * FROM budget_scenarios WHERE name = ?", [name])


def insert(w, *, name: str, total_usd: float, allocation: str, assumptions: str, note: str, actor: str,
           at: datetime) -> None:
    w.execute("INSERT INTO budget_scenarios (name, total_usd, allocation, assumptions, note, created_by, created_at, "
              "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              [name, total_usd, allocation, assumptions, note, actor, at, actor, at])


def update(w, *, name: str, total_usd: float, allocation: str, assumptions: str, note: str, actor: str,
           at: datetime) -> None:
    w.execute("UPDATE budget_scenarios SET total_usd = ?, allocation = ?, assumptions = ?, note = ?, updated_by = ?, "
              "updated_at = ?, version = version + 1 WHERE name = ?",
              [total_usd, allocation, assumptions, note, actor, at, name])


def delete(w, name: str) -> None:
    w.execute("DELETE FROM budget_scenarios WHERE name = ?", [name])
