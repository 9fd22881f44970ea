"""Headless Chromium against a real `warroom serve`: the ROI pages draw their charts, and the quarter
page's board report downloads as a self-contained HTML file."""

import shutil

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_incident_roi_and_quarter_pages(tmp_path, roi_db, server_factory, browser, output_dir):
    db = tmp_path / "r.duckdb"
    shutil.copyfile(roi_db, db)
    srv = server_factory(db).start()
    page = browser.new_page(viewport={"width": 1400, "height": 1600}, accept_downloads=True)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(srv.url + "/incident-roi?incident=3", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        page.wait_for_function("document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length >= 4",
                               timeout=60_000)
        labels = [t.strip() for t in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()]
        values = [t.strip() for t in page.locator('[data-testid="stMetricValue"]').all_inner_texts()]
        tiles = dict(zip(labels, values))
        assert tiles["Total cost"].startswith("$") and tiles["Lost conversions"] != "0"
        assert page.get_by_text("Traceback").count() == 0
        page.screenshot(path=str(output_dir / "incident-roi.png"), full_page=True)

        page.goto(srv.url + "/quarter?quarter=2026Q3", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        page.wait_for_selector('[data-testid="stDownloadButton"] button', timeout=30_000)
        with page.expect_download(timeout=120_000) as dl:
            page.get_by_text("Download the board report (HTML)").click()
        path = tmp_path / "board.html"
        dl.value.save_as(path)
        text = path.read_text()
        assert "Incident cost and recovery: 2026Q3" in text and "Plotly" in text
        page.screenshot(path=str(output_dir / "quarter.png"), full_page=True)
    finally:
        page.close()
    outside = [u for u in requests if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))]
    assert outside == [], f"the page fetched from outside loopback: {outside[:5]}"
