"""The `warroom` command, run as a user would run it."""

import json
import os
import re
import subprocess
import sys

import pytest

from app import settings
from app.cli import build_parser
from app.store.db import Store
from app.store.kinds import kinds
from tests.conftest import ROOT
from tests.helpers import decision, write_csv

README = (ROOT / "README.md").read_text()


def warroom(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_ingest_reports_and_exits_2_and_changes_nothing(tmp_path):
    db = tmp_path / "c.duckdb"
    good = write_csv(tmp_path / "good.csv", [decision(1), decision(2)])
    r = warroom("ingest", str(good), "--kind", "decisions", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("decisions: 2 rows read from 1 file(s): 2 new, 0 duplicate, 0 updated")
    r = warroom("ingest", str(good), "--kind", "decisions", "--db", str(db))
    assert "0 new, 2 duplicate, 0 updated" in r.stdout
    bad = write_csv(tmp_path / "bad.csv", [decision(3), decision(4, decision="maybe", ts="2026-11-02")])
    r = warroom("ingest", str(good), str(bad), "--kind", "decisions", "--db", str(db))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "error: 2 problem(s) found; nothing was written.",
        f"  {bad}, row 2, column ts: value '2026-11-02': is not an ISO-8601 timestamp with an offset (e.g. 2026-12-04T09:30:00Z)",
        f"  {bad}, row 2, column decision: value 'maybe': is not an allowed value (allowed: approve, decline, review)",
    ]
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM decisions") == 2


def test_ingest_uses_the_db_setting(tmp_path):
    db = tmp_path / "env.duckdb"
    r = warroom("ingest", str(ROOT / "data/samples/funnel.csv"), "--kind", "funnel", env={"WARROOM_DB": str(db)})
    assert r.returncode == 0, r.stderr
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM funnel") == 12


@pytest.mark.parametrize("kind", list(kinds()))
def test_samples_in_data_folder_ingest(tmp_path, kind):
    r = warroom("ingest", str(ROOT / f"data/samples/{kind}.csv"), "--kind", kind, "--db", str(tmp_path / "s.duckdb"))
    assert r.returncode == 0, r.stderr
    assert "12 new" in r.stdout


def test_simulate_out_writes_five_kinds_and_truth_that_ingest_back(tmp_path):
    out = tmp_path / "sim"
    r = warroom("simulate", "--scenario", "decline-spike", "--start", "2026-10-01", "--days", "1", "--seed", "3",
                "--scale", "0.2", "--out", str(out), "--format", "parquet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{k}.parquet" for k in kinds()] + ["truth.json"])
    truth = json.loads((out / "truth.json").read_text())
    assert truth["scenario"] == "decline-spike" and truth["seed"] == 3
    (inc,) = truth["incidents"]
    assert inc["flows"] == ["withdrawal"] and inc["effects"]["bad_version"] == "3.5.0"
    db = tmp_path / "back.duckdb"
    for kind in kinds():
        r = warroom("ingest", str(out / f"{kind}.parquet"), "--kind", kind, "--db", str(db))
        assert r.returncode == 0, r.stderr
        assert " 0 duplicate" in r.stdout


def test_simulate_ndjson_and_csv_formats_ingest(tmp_path):
    for fmt in ("ndjson", "csv"):
        out = tmp_path / fmt
        r = warroom("simulate", "--scenario", "calm", "--start", "2026-10-01T00:00:00Z", "--days", "0.1",
                    "--seed", "1", "--scale", "0.2", "--out", str(out), "--format", fmt)
        assert r.returncode == 0, r.stderr
        r = warroom("ingest", str(out / f"decisions.{fmt}"), "--kind", "decisions", "--db", str(tmp_path / f"{fmt}.duckdb"))
        assert r.returncode == 0, r.stderr


def test_simulate_db_loads_and_writes_truth_beside_it(tmp_path):
    db = tmp_path / "sim.duckdb"
    r = warroom("simulate", "--scenario", "calm", "--start", "2026-10-01", "--days", "0.2", "--seed", "2",
                "--scale", "0.2", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sim-truth.json").exists()
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM decisions") > 0
        assert s.scalar("SELECT count(*) FROM ingest_batches") == 5


def test_unknown_scenario_and_missing_target(tmp_path):
    r = warroom("simulate", "--scenario", "meteor", "--out", str(tmp_path))
    assert r.returncode == 2 and "unknown scenario 'meteor'" in r.stderr
    r = warroom("simulate", "--scenario", "calm")
    assert r.returncode == 2 and "give --out DIR or --db PATH" in r.stderr


def test_readme_documents_every_setting_command_and_column():
    for s in settings.SETTINGS.values():
        assert f"`{s.env}`" in README, s.env
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"warroom {name}" in README, name
    for kind in kinds().values():
        section = README.split(f"#### `{kind.name}`", 1)[1].split("####", 1)[0]
        for col in kind.columns:
            assert f"| `{col.name}` |" in section, (kind.name, col.name)
    assert re.search(r"^make demo ", README, re.M) and re.search(r"^make test ", README, re.M)


def test_settings_command_lists_all(tmp_path):
    r = warroom("settings", env={"WARROOM_PORT": "9999"})
    assert r.returncode == 0
    assert "WARROOM_PORT=9999" in r.stdout
    for s in settings.SETTINGS.values():
        assert s.env in r.stdout


def test_user_add_and_serve_refuses_open_host_without_sign_in(tmp_path):
    db = tmp_path / "u.duckdb"
    r = warroom("serve", "--db", str(db), "--host", "0.0.0.0", "--port", "1")
    assert r.returncode == 2 and "refusing to serve on 0.0.0.0 without sign-in" in r.stderr
    r = subprocess.run([sys.executable, "-m", "app.cli", "user", "add", "ana", "--role", "operator", "--db", str(db),
                        "--password-stdin"], cwd=ROOT, input="short\n", capture_output=True, text=True)
    assert r.returncode == 2 and "at least 10 characters" in r.stderr
    r = subprocess.run([sys.executable, "-m", "app.cli", "user", "add", "ana", "--role", "operator", "--db", str(db),
                        "--password-stdin"], cwd=ROOT, input="correct horse battery\n", capture_output=True, text=True)
    assert r.returncode == 0 and "user ana (operator) saved" in r.stdout
    from app.domain import accounts
    with Store(db) as s:
        assert accounts.verify(s, name="ana", password="correct horse battery").role == "operator"
        assert accounts.verify(s, name="ana", password="wrong password!") is None
        assert "argon2" in s.scalar("SELECT password_hash FROM users")
    from app.cli import sign_in_configured
    assert sign_in_configured(db)


def test_features_seed_and_list(tmp_path):
    db = tmp_path / "f.duckdb"
    r = warroom("features", "seed", "--db", str(db), env={"WARROOM_FLAGS_FILE": str(tmp_path / "flags.json")})
    assert r.returncode == 0 and r.stdout.startswith("registered 4 feature(s)")
    assert "deposit_fraud_check" in r.stdout and (tmp_path / "flags.json").exists()


def test_backtest_cli(tmp_path):
    import numpy as np
    import pandas as pd
    n = 2 * 1440 + 200
    ts = pd.date_range("2026-11-01", periods=n, freq="1min", tz="UTC")
    rng = np.random.default_rng(1)
    values = 50 + 10 * np.sin(np.arange(n) / 1440 * 2 * np.pi) + rng.normal(0, 1, n)
    values[-100:] += 20
    src = tmp_path / "in.csv"
    pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": values.round(3)}).to_csv(src, index=False)
    r = warroom("backtest", "--list")
    assert r.returncode == 0 and "seasonal_robust" in r.stdout and "[default]" in r.stdout
    out = tmp_path / "out.csv"
    r = warroom("backtest", str(src), "--detector", "seasonal_robust", "--out", str(out))
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)
    assert list(df.columns) == ["timestamp", "value", "anomaly_score", "alert"] and len(df) == n
    assert df["anomaly_score"].between(0, 1).all()
    assert df["alert"].iloc[-100:-97].any() and not df["alert"].iloc[1440:1440 + 600].any()  # the step, at once
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-11-01T00:00:00Z,1\nnot a time,x\n")
    r = warroom("backtest", str(bad), "--out", str(tmp_path / "o2.csv"))
    assert r.returncode == 2 and "row 2, column timestamp: value 'not a time': is not a date and time" in r.stderr
    assert "row 2, column value: value 'x': is not a number" in r.stderr and not (tmp_path / "o2.csv").exists()
