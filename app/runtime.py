"""The process's one Store.

`warroom serve` opens it before Streamlit starts and every page, the worker and
the CLI helpers share it. Pages run as threads of the same process, so the
store (and its writer lock) is shared by all browser sessions.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app import settings
from app.store.db import Store

_lock = threading.Lock()
_store: Store | None = None


def open_store(path: str | Path | None = None) -> Store:
    """Open (once) and return the process's store."""
    global _store
    with _lock:
        if _store is None or _store.closed:
            _store = Store(path or settings.get("db"))
        return _store


def store() -> Store:
    return open_store()


def close_store() -> None:
    global _store
    with _lock:
        if _store is not None:
            _store.close()
        _store = None
