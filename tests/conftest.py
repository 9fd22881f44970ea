"""Shared fixtures: temporary stores, simulated data, a real server, real Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app import runtime
from app.store.db import Store

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SIM_START = datetime(2026, 10, 1, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "t.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def crash_data():
    """12 days of the market-crash scenario at a small scale (fixed seed)."""
    from app.sim.generator import simulate
    return simulate("market-crash-false-positives", SIM_START, 12, seed=11, scale=0.4)


@pytest.fixture(scope="session")
def crash_db(tmp_path_factory, crash_data):
    """A store file holding crash_data; copy it before writing to it."""
    from app.store.ingest import ingest_tables
    path = tmp_path_factory.mktemp("crash") / "crash.duckdb"
    tables, _ = crash_data
    with Store(path) as s:
        for kind, t in tables.items():
            ingest_tables(s, kind, [(kind, t)], source="test")
        s.cursor().execute("CHECKPOINT")
    return path


ROI_T0 = datetime(2026, 8, 1, tzinfo=timezone.utc)
ROI_DAYS = 40


def _roi_specs():
    from app.sim.scenarios import HOUR, Injected
    at = lambda s: datetime.fromisoformat(s + "+00:00").timestamp()  # noqa: E731
    return [Injected("deposit", at("2026-08-22T14:00:00"), 20 * HOUR, 0.4),
            Injected("withdrawal", at("2026-08-28T09:00:00"), 6 * HOUR, 0.5),
            Injected("loan_application", at("2026-09-02T00:00:00"), 48 * HOUR, 0.3)]


@pytest.fixture(scope="session")
def roi_world():
    """40 days from 2026-08-01 (scale 0.3) with three injected incidents, and the twin without them."""
    from app.sim.generator import generate
    from app.sim.scenarios import InjectedIncidents
    t0 = ROI_T0.timestamp()
    t1 = t0 + ROI_DAYS * 86400.0
    specs = _roi_specs()
    world = generate(InjectedIncidents(t0, t1, 5, specs), t0, t1, seed=5, scale=0.3)
    twin = generate(InjectedIncidents(t0, t1, 5, specs, strength=0.0), t0, t1, seed=5, scale=0.3,
                    flows={s.flow for s in specs})
    return world, twin, specs


@pytest.fixture(scope="session")
def roi_db(tmp_path_factory, roi_world):
    """A store holding roi_world with the three incidents logged (detected, acknowledged, throttled, resolved)."""
    from datetime import timedelta

    from app.domain import flags
    from app.sim.history import log_incident
    from app.sim.model import FLOW_BY_NAME
    from app.store.ingest import ingest_tables
    world, _, specs = roi_world
    path = tmp_path_factory.mktemp("roi") / "roi.duckdb"
    with Store(path) as s:
        for kind, t in world.as_of(ROI_T0.timestamp() + (ROI_DAYS + 7) * 86400.0).items():
            ingest_tables(s, kind, [(kind, t)], source="test")
        flags.seed_simulator_features(s)
        for k, sp in enumerate(specs):
            start = datetime.fromtimestamp(sp.start, tz=timezone.utc).replace(tzinfo=None)
            end = start + timedelta(seconds=sp.length)
            log_incident(s, title=f"{sp.flow} completions fall", flows=[sp.flow],
                         features=[FLOW_BY_NAME[sp.flow].feature], start=start, end=end,
                         detect_after=timedelta(minutes=12 + 10 * k), ack_after=timedelta(minutes=8),
                         mitigate_at=start + (end - start) * 0.6, severity="SEV1" if k == 0 else "SEV2")
        s.cursor().execute("CHECKPOINT")
    return path


@pytest.fixture
def roi_store(tmp_path, roi_db):
    """A private, writable copy of roi_db."""
    path = tmp_path / "roi.duckdb"
    shutil.copyfile(roi_db, path)
    s = Store(path)
    yield s
    s.close()


def _runtime_on_copy(source: Path, path: Path, monkeypatch):
    """Point the app's runtime at `path`, a private copy of `source`, for one test."""
    shutil.copyfile(source, path)
    monkeypatch.setenv("WARROOM_DB", str(path))
    runtime.close_store()
    yield path
    runtime.close_store()


@pytest.fixture
def app_store(tmp_path, crash_db, monkeypatch):
    """Point the app's runtime at a private copy of crash_db (for AppTest)."""
    yield from _runtime_on_copy(crash_db, tmp_path / "app.duckdb", monkeypatch)


@pytest.fixture
def roi_app_store(tmp_path, roi_db, monkeypatch):
    """Point the app's runtime at a private copy of roi_db (for AppTest of the ROI pages)."""
    monkeypatch.setenv("WARROOM_FLAGS_FILE", str(tmp_path / "flags.json"))
    yield from _runtime_on_copy(roi_db, tmp_path / "roi-app.duckdb", monkeypatch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(port: int, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"server on port {port} not healthy after {timeout} s")


class Server:
    def __init__(self, db: Path, log: Path, env: dict | None = None, cwd: Path | None = None) -> None:
        self.db, self.log_path, self.cwd = db, log, cwd or ROOT
        self.port = free_port()
        self.env = {**os.environ, "WARROOM_DB": str(db), "WARROOM_INBOX_POLL_SECONDS": "0.3",
                    "WARROOM_FLAGS_FILE": str(db.parent / "flags.json"), "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def inbox(self) -> Path:
        return self.db.parent / "inbox"

    def start(self) -> "Server":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--db", str(self.db), "--port", str(self.port)],
            cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_health(self.port, self.proc)
        return self

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def make(db: Path, **kw) -> Server:
        s = Server(db, tmp_path / f"server-{len(servers)}.log", **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        try:
            s.kill()
        except Exception:
            pass


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
