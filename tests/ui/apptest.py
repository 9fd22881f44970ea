"""Open a page of the app under AppTest with query parameters."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")


def open_page(page: str, params: dict, *, timeout: float = 90) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=timeout)
    at.run()
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
