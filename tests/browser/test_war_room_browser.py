"""The war room in headless Chromium: it refreshes itself when new events land."""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.sim.generator import simulate
from app.store.db import Store
from app.store.ingest import ingest_tables
from tests.conftest import ROOT
from tests.helpers import decision, write_csv

pytestmark = [pytest.mark.browser, pytest.mark.server]
REFRESH = 2.0


def tile(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has=page.get_by_text(label, exact=True))
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_tiles_change_without_reload_when_events_land(tmp_path, server_factory, browser, output_dir):
    db = tmp_path / "live.duckdb"
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=6)
    tables, _ = simulate("calm", start, 0.25, seed=9, scale=0.3)
    with Store(db) as s:
        for kind, t in tables.items():
            ingest_tables(s, kind, [(kind, t)])
    srv = server_factory(db, env={"WARROOM_REFRESH_SECONDS": str(REFRESH)}).start()
    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    try:
        page.goto(srv.url + "/war-room?flow=deposit&window=1h", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=30_000)
        before = tile(page, "Manual-review rate")
        page.evaluate("window.__sameDocument = 42")
        ts = (datetime.now(timezone.utc) - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        burst = write_csv(tmp_path / "burst.csv",
                          [decision(50_000 + i, ts=ts, decision="review", is_fraud="false") for i in range(400)])
        r = subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(burst), "--kind", "decisions",
                            "--db", str(db)], cwd=ROOT, capture_output=True, text=True, env=os.environ, timeout=120)
        assert r.returncode == 0 and "queued" in r.stdout, r.stderr
        processed = srv.inbox / "processed" / "decisions"
        deadline = time.time() + 30
        while not list(processed.glob("*.summary.txt")) and time.time() < deadline:
            time.sleep(0.2)
        landed = time.time()
        after = before
        while time.time() < landed + 2 * REFRESH + 3 and after == before:
            time.sleep(0.25)
            after = tile(page, "Manual-review rate")
        assert after != before, f"the tile still shows {before} two refresh intervals after the events landed"
        assert float(after.rstrip("%")) > float(before.rstrip("%")) + 20
        assert page.evaluate("window.__sameDocument") == 42  # refreshed in place, no reload
        page.screenshot(path=str(output_dir / "war-room.png"), full_page=True)
        page.goto(srv.url + "/war-room?kiosk=1&flow=deposit", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        assert "kiosk=1" in page.url and "flow=deposit" in page.url
        page.screenshot(path=str(output_dir / "war-room-kiosk.png"), full_page=True)
    finally:
        page.close()
