"""Sign-in through a local OpenID provider (oidc-provider-mock), then the control
panel: an operator throttles a feature and sees the marker on the war-room chart;
a viewer reaches neither the controls nor their effect."""

import secrets
import shutil

import pytest

from app.domain import flags
from app.store.db import Store

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def oidc():
    from oidc_provider_mock import User, run_server_in_thread
    users = [User(sub="ana", claims={"email": "ana@example.com", "name": "Ana"}),
             User(sub="vic", claims={"email": "vic@example.com", "name": "Vic"})]
    with run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://127.0.0.1:{server.server_port}"


def sign_in(page, url: str, sub: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('input[name="sub"]', timeout=30_000)
    page.fill('input[name="sub"]', sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_selector(f"text=Signed in as {sub}@example.com", timeout=30_000)
    page.goto(url, wait_until="domcontentloaded")  # the callback lands on the default page


def test_operator_signs_in_throttles_and_sees_the_marker(tmp_path, crash_db, server_factory, browser, oidc,
                                                         output_dir):
    db = tmp_path / "auth.duckdb"
    shutil.copyfile(crash_db, db)
    with Store(db) as s:
        flags.seed_simulator_features(s)
    cwd = tmp_path / "site"
    (cwd / ".streamlit").mkdir(parents=True)
    srv = server_factory(db, cwd=cwd, env={"WARROOM_ROLES": "ana@example.com=operator"})
    (cwd / ".streamlit" / "secrets.toml").write_text(f'''[auth]
redirect_uri = "{srv.url}/oauth2callback"
cookie_secret = "{secrets.token_hex(16)}"
client_id = "warroom"
client_secret = "not-a-secret"
server_metadata_url = "{oidc}/.well-known/openid-configuration"
''')
    srv.start()
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = ctx.new_page()
    try:
        sign_in(page, srv.url + "/control", "ana")
        page.wait_for_selector("text=Signed in as ana@example.com (operator)")
        box = page.locator('[data-testid="stExpander"]', has_text="deposit_fraud_check")
        box.locator("summary").click()
        box.get_by_text("throttled", exact=True).click()
        box.get_by_label("Reason (required)").fill("FP spike in the crash")
        box.get_by_role("button", name="Apply to deposit_fraud_check").click()
        page.wait_for_selector("text=throttled 50% (fallback: send to manual review)", timeout=30_000)
        page.screenshot(path=str(output_dir / "control-panel.png"), full_page=True)
        page.goto(srv.url + "/war-room?window=1h&flow=deposit", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        page.wait_for_selector("text=deposit_fraud_check: throttle 50%", timeout=30_000)
        page.screenshot(path=str(output_dir / "war-room-marker.png"), full_page=True)
    finally:
        ctx.close()
    viewer = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = viewer.new_page()
    try:
        sign_in(page, srv.url + "/control", "vic")
        page.wait_for_selector("text=vic@example.com (viewer): you can read everything here")
        assert page.get_by_role("button", name="Apply to deposit_fraud_check").count() == 0
        assert page.get_by_role("button", name="Register the simulator's four features").count() == 0
    finally:
        viewer.close()
    srv.stop()
    with Store(db) as s:
        log = flags.audit(s)
    assert list(log["actor"]) == ["ana@example.com"] and list(log["action"]) == ["throttle"]
    import json
    doc = json.loads((db.parent / "flags.json").read_text())  # the server rewrote the flag file on the change
    assert doc["flags"]["deposit_fraud_check"]["targeting"] == {"fractional": [["model", 50], ["manual_review", 50]]}
