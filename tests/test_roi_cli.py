"""`warroom roi` and `warroom report`: the documented JSON shape, the printout, errors, and the board
report (HTML opened offline in headless Chromium, PDF pages)."""

from __future__ import annotations

import io
import json
import os
import re

import pytest

from tests.conftest import ROOT
from tests.test_cli import warroom


def _readme_json() -> dict:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- roi-json -->\s*```json\n(.*?)```", text, re.S)
    assert m, "README must hold the `warroom roi --json` example after <!-- roi-json -->"
    return json.loads(m.group(1))


def _shape(v):
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_shape(v[0])] if v else []
    return "null-or-value"


def _same_keys(doc, got, path="$"):
    if isinstance(doc, dict):
        assert isinstance(got, dict), path
        assert set(doc) == set(got), f"{path}: README has {sorted(set(doc) - set(got))}, output has " \
                                     f"{sorted(set(got) - set(doc))}"
        for k in doc:
            if isinstance(doc[k], (dict, list)) and got[k] is not None:
                _same_keys(doc[k], got[k], f"{path}.{k}")
    elif isinstance(doc, list) and doc and got:
        _same_keys(doc[0], got[0], path + "[0]")


def test_roi_json_has_the_documented_shape(roi_db):
    r = warroom("roi", "--db", str(roi_db), "--incident", "1", "--json", "--buckets")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    _same_keys(_readme_json(), got)
    assert got["incident"]["id"] == 1 and got["flow"] == "deposit"
    lost = got["lost"]["revenue_usd"]
    assert lost["lower"] <= lost["estimate"] <= lost["upper"]
    assert got["window"]["bucket_minutes"] == 60 and len(got["buckets"]) == 20
    assert got["recovery_minutes"]["time_to_detect"] == 12.0
    r = warroom("roi", "--db", str(roi_db), "--flow", "withdrawal", "--start", "2026-08-28T09:00:00Z",
                "--end", "2026-08-28T15:00:00Z", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["incident"] is None and got["recovery_minutes"] == {} and "buckets" not in got
    assert got["window"]["bucket_minutes"] == 15 and got["lost"]["conversions"]["estimate"] > 0


def test_roi_printout_and_errors(roi_db, tmp_path):
    r = warroom("roi", "--db", str(roi_db), "--incident", "2")
    assert r.returncode == 0, r.stderr
    for text in ("incident #2", "lost revenue", "95% interval", "controls", "recovery", "each hour sooner",
                 "total cost"):
        assert text in r.stdout
    assert warroom("roi", "--db", str(roi_db), "--incident", "99").stderr.strip() == "error: no incident #99"
    r = warroom("roi", "--db", str(roi_db), "--flow", "deposit", "--start", "2026-08-28")
    assert r.returncode == 2 and "--flow needs --start and --end" in r.stderr
    r = warroom("roi", "--db", str(roi_db))
    assert r.returncode == 2 and "give --incident ID" in r.stderr
    r = warroom("roi", "--db", str(tmp_path / "none.duckdb"), "--incident", "1")
    assert r.returncode == 2 and "no store at" in r.stderr
    r = warroom("roi", "--db", str(roi_db), "--flow", "deposit", "--start", "2026-08-01T06:00", "--end", "2026-08-01T12:00")
    assert r.returncode == 2 and "clean data before the window" in r.stderr


@pytest.fixture(scope="module")
def reports(roi_db, tmp_path_factory):
    from app.report import pdf_available
    if not pdf_available():
        if os.environ.get("CI"):
            pytest.fail("no Chromium for the PDF report: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium for the PDF report (apt-get install chromium)")
    out = tmp_path_factory.mktemp("report")
    html, pdf = out / "board.html", out / "board.pdf"
    for path in (html, pdf):
        r = warroom("report", "--db", str(roi_db), "--quarter", "2026Q3", "--out", str(path))
        assert r.returncode == 0, r.stderr
        assert "3 incident(s)" in r.stdout
    return html, pdf


@pytest.mark.browser
def test_html_report_opens_offline_with_its_charts(reports, browser):
    html, _ = reports
    page = browser.new_page()
    requests = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(html.as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg")
    page.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length >= 6")
    assert page.locator(".plotly-graph-div").count() == 6
    assert [u for u in requests if not u.startswith("file://")] == []
    text = page.inner_text("body")
    for section in ("Summary", "Incidents by cost", "Recovery trend", "Model value", "Budget scenario"):
        assert section in text
    assert "loan_application completions fall" in text
    # each incident's bar is drawn
    assert page.locator("#incidents-by-cost .plotly-graph-div .bars .point").count() == 3
    page.close()


@pytest.mark.browser
def test_pdf_report_has_one_page_per_section_with_chart_images(reports):
    from pypdf import PdfReader
    _, pdf = reports
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert len(reader.pages) == 5
    titles = ["Incident cost and recovery: 2026Q3", "Incidents by cost", "Recovery trend", "Model value",
              "Budget scenario"]
    for page, title in zip(reader.pages, titles):
        assert title in page.extract_text()
    images = [len(p.images) for p in reader.pages]
    assert images == [0, 1, 2, 1, 2]


def test_report_errors(roi_db, tmp_path):
    r = warroom("report", "--db", str(roi_db), "--quarter", "Q3-2026", "--out", str(tmp_path / "x.html"))
    assert r.returncode == 2 and "expected the form 2026Q3" in r.stderr
    r = warroom("report", "--db", str(roi_db), "--quarter", "2026Q3", "--out", str(tmp_path / "x.html"),
                "--scenario", "nope")
    assert r.returncode == 2 and "no saved budget scenario named nope" in r.stderr
    assert not (tmp_path / "x.html").exists()
