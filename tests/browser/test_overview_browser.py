"""Headless Chromium against a real `warroom serve`."""

import shutil

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_overview_loads_with_its_chart(tmp_path, crash_db, server_factory, browser, output_dir):
    db = tmp_path / "b.duckdb"
    shutil.copyfile(crash_db, db)
    srv = server_factory(db).start()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(srv.url + "/", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=30_000)
        values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
        tiles = dict(zip([l.strip() for l in labels], [v.strip() for v in values]))
        assert tiles["False-positive rate"].endswith("%")
        assert float(tiles["False-positive rate"].rstrip("%")) > 10  # the crash is on in the newest day
        traces = page.locator('[data-testid="stPlotlyChart"] .scatterlayer .trace').count()
        assert traces == 2
        assert page.get_by_text("Data freshness").count() == 1
        page.screenshot(path=str(output_dir / "overview.png"), full_page=True)
    finally:
        page.close()
    outside = [u for u in requests if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))]
    assert outside == [], f"the page fetched from outside loopback: {outside[:5]}"
