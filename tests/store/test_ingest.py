import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.store.ingest import IngestError, ingest_files, ingest_tables
from tests.helpers import DECISION_COLS, decision, snapshot, write_csv


def problems_of(exc: IngestError) -> list[str]:
    return [str(p) for p in exc.problems]


def test_good_csv_lands_with_summary(store, tmp_path):
    f = write_csv(tmp_path / "d.csv", [decision(1), decision(2, decision="review", is_fraud="")])
    r = ingest_files(store, [f], "decisions")
    assert (r.rows_read, r.rows_new, r.rows_duplicate, r.rows_updated) == (2, 2, 0, 0)
    assert "2 new, 0 duplicate, 0 updated" in r.summary()
    rows = store.fetchall("SELECT event_id, is_fraud, ts FROM decisions ORDER BY event_id")
    assert [(a, b) for a, b, _ in rows] == [("e1", False), ("e2", None)]


def test_offsets_are_converted_to_utc(store, tmp_path):
    f = write_csv(tmp_path / "d.csv", [decision(1, ts="2026-11-02T12:30:00+02:00"),
                                       decision(2, ts="2026-11-02 05:00:00.250-05:00")])
    ingest_files(store, [f], "decisions")
    got = [str(t) for (t,) in store.fetchall("SELECT ts FROM decisions ORDER BY event_id")]
    assert got == ["2026-11-02 10:30:00", "2026-11-02 10:00:00.250000"]


@pytest.mark.parametrize("column,value,rule", [
    ("ts", "2026-11-02 10:00:00", "is not an ISO-8601 timestamp with an offset (e.g. 2026-12-04T09:30:00Z)"),
    ("ts", "yesterday", "is not an ISO-8601 timestamp with an offset (e.g. 2026-12-04T09:30:00Z)"),
    ("ts", "2026-13-45T10:00:00Z", "is not a valid date and time"),
    ("ts", "2999-01-01T00:00:00Z", "is more than 1440 minutes in the future (setting WARROOM_MAX_FUTURE_MINUTES)"),
    ("ts", "1999-12-31T23:00:00Z", "is before 2000-01-01"),
    ("ts", "", "is required (empty)"),
    ("score", "abc", "is not a number"),
    ("score", "1.5", "is out of range (must be between 0 and 1)"),
    ("score", "-0.1", "is out of range (must be between 0 and 1)"),
    ("score", "nan", "is not a finite number"),
    ("latency_ms", "-3", "is out of range (must be between 0 and 600000)"),
    ("amount_usd", "-1", "is out of range (must be between 0 and 1e+12)"),
    ("is_fraud", "maybe", "must be true, false or empty"),
    ("decision", "block", "is not an allowed value (allowed: approve, decline, review)"),
    ("platform", "tv", "is not an allowed value (allowed: web, ios, android)"),
    ("flow", "moonshot",
     "is not an allowed value (allowed: deposit, withdrawal, trade, loan_application, signup)"),
    ("user_id", "", "is required (empty)"),
    ("event_id", "x" * 129, "is longer than 128 characters"),
])
def test_each_rule_names_file_row_column_value(store, tmp_path, column, value, rule):
    f = write_csv(tmp_path / "bad.csv", [decision(1), decision(2, **{column: value})])
    before = snapshot(store)
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [f], "decisions")
    shown = None if value == "" else (value if len(value) <= 60 else value[:57] + "...")
    expected = f"{f}, row 2, column {column}: " + (f"value {shown!r}: " if shown is not None else "") + rule
    assert problems_of(ei.value) == [expected]
    assert snapshot(store) == before


def test_missing_and_unknown_columns(store, tmp_path):
    rows = [{k: v for k, v in decision(1).items() if k != "score"} | {"colour": "red"}]
    f = write_csv(tmp_path / "cols.csv", rows)
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [f], "decisions")
    assert problems_of(ei.value) == [
        f"{f}, column score: missing column",
        f"{f}, column colour: unknown column (expected: {', '.join(DECISION_COLS)})",
    ]


def test_duplicate_header_and_unreadable_files(store, tmp_path):
    f = tmp_path / "dup.csv"
    f.write_text("event_id,event_id\n1,2\n")
    e = tmp_path / "notes.txt"
    e.write_text("hello")
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [f, e, tmp_path / "nope.csv"], "decisions")
    assert problems_of(ei.value) == [
        f"{f}, column event_id: column appears more than once",
        f"{e}: unknown file type; use .csv, .csv.gz, .parquet, .ndjson or .jsonl",
        f"{tmp_path / 'nope.csv'}: file not found",
    ]


def test_ragged_csv_is_a_clear_error(store, tmp_path):
    f = tmp_path / "ragged.csv"
    f.write_text(",".join(DECISION_COLS) + "\n" + "a,b\n")
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [f], "decisions")
    (msg,) = problems_of(ei.value)
    assert msg.startswith(f"{f}: cannot be read as csv: ") and "Expected 14 columns, got 2" in msg


def test_at_most_twenty_problems_listed_with_the_total(store, tmp_path):
    f = write_csv(tmp_path / "many.csv", [decision(i, score="9", decision="no") for i in range(30)])
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [f], "decisions")
    assert ei.value.total == 60
    assert len(ei.value.problems) == 20
    assert ei.value.report().splitlines()[0] == "60 problem(s) found; nothing was written. The first 20:"
    assert str(ei.value.problems[0]) == f"{f}, row 1, column decision: value 'no': is not an allowed value (allowed: approve, decline, review)"


def test_idempotent_and_label_updates(store, tmp_path):
    rows = [decision(1), decision(2, is_fraud=""), decision(3, decision="decline", is_fraud="")]
    f = write_csv(tmp_path / "d.csv", rows)
    assert ingest_files(store, [f], "decisions").rows_new == 3
    again = ingest_files(store, [f], "decisions")
    assert (again.rows_new, again.rows_duplicate, again.rows_updated) == (0, 3, 0)
    # Labels arrive later for e2 (legit) and e3 (fraud); e1 is re-sent unchanged.
    late = write_csv(tmp_path / "late.csv", [decision(1), decision(2, is_fraud="false"),
                                             decision(3, decision="decline", is_fraud="true")])
    r = ingest_files(store, [late], "decisions")
    assert (r.rows_new, r.rows_duplicate, r.rows_updated) == (0, 1, 2)
    assert store.fetchall("SELECT event_id, is_fraud FROM decisions ORDER BY 1") == [
        ("e1", False), ("e2", False), ("e3", True)]
    assert store.fetchall("SELECT sum(n_legit), sum(n_fraud), sum(n_fraud_caught) FROM rollup_decisions") == [(2, 1, 1)]
    assert store.scalar("SELECT count(*) FROM ingest_batches") == 3


def test_repeats_within_one_file_keep_the_last_row(store, tmp_path):
    f = write_csv(tmp_path / "d.csv", [decision(1, is_fraud=""), decision(2), decision(1, is_fraud="true")])
    r = ingest_files(store, [f], "decisions")
    assert (r.rows_read, r.rows_new, r.rows_duplicate) == (3, 2, 1)
    assert store.scalar("SELECT is_fraud FROM decisions WHERE event_id = 'e1'") is True


def test_bad_row_in_third_file_leaves_store_unchanged(store, tmp_path):
    ingest_files(store, [write_csv(tmp_path / "seed.csv", [decision(100)])], "decisions")
    before = snapshot(store)
    files = [write_csv(tmp_path / "a.csv", [decision(1), decision(2)]),
             write_csv(tmp_path / "b.csv", [decision(3), decision(4, is_fraud="true")]),
             write_csv(tmp_path / "c.csv", [decision(5), decision(6, score="2")])]
    with pytest.raises(IngestError) as ei:
        ingest_files(store, files, "decisions")
    assert problems_of(ei.value) == [f"{files[2]}, row 2, column score: value '2': is out of range (must be between 0 and 1)"]
    assert snapshot(store) == before
    files[2] = write_csv(tmp_path / "c.csv", [decision(5), decision(6, score="0.2")])
    r = ingest_files(store, files, "decisions")
    assert r.rows_new == 6 and len(r.files) == 3


def test_repeat_across_files_of_one_call_is_a_duplicate(store, tmp_path):
    a = write_csv(tmp_path / "a.csv", [decision(1), decision(2)])
    b = write_csv(tmp_path / "b.csv", [decision(2), decision(3)])
    r = ingest_files(store, [a, b], "decisions")
    assert (r.rows_new, r.rows_duplicate) == (3, 1)


def test_parquet_ndjson_and_gzip_csv(store, tmp_path):
    rows = [decision(1), decision(2, is_fraud="")]
    csv_path = write_csv(tmp_path / "d.csv", rows)
    gz = tmp_path / "d2.csv.gz"
    gz.write_bytes(gzip.compress(csv_path.read_bytes().replace(b"e1,", b"g1,").replace(b"e2,", b"g2,")))
    nd = tmp_path / "d3.ndjson"
    nd.write_text("\n".join(json.dumps({**r, "event_id": "n" + r["event_id"], "score": float(r["score"]),
                                        "latency_ms": 40, "amount_usd": 100.5,
                                        "is_fraud": {"false": False, "": None}[r["is_fraud"]]}) for r in rows) + "\n")
    table = pa.table({c: pa.array([r[c] or None for r in rows]) for c in DECISION_COLS})
    table = table.set_column(1, "ts", pa.array([1793613600_000000, 1793613660_000000]).cast(pa.timestamp("us", tz="UTC")))
    table = table.set_column(0, "event_id", pa.array(["p1", "p2"]))
    table = table.set_column(7, "score", pa.array([0.1, 0.2]))
    pq.write_table(table, tmp_path / "d4.parquet")
    r = ingest_files(store, [csv_path, gz, nd, tmp_path / "d4.parquet"], "decisions")
    assert r.rows_new == 8
    assert store.scalar("SELECT count(*) FROM decisions WHERE is_fraud IS NULL") == 4


def test_parquet_timestamp_without_zone_is_refused(store, tmp_path):
    rows = [decision(1)]
    table = pa.table({c: pa.array([r[c] for r in rows]) for c in DECISION_COLS})
    table = table.set_column(1, "ts", pa.array([1793613600_000000]).cast(pa.timestamp("us")))
    pq.write_table(table, tmp_path / "naive.parquet")
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [tmp_path / "naive.parquet"], "decisions")
    assert problems_of(ei.value) == [
        f"{tmp_path / 'naive.parquet'}, row 1, column ts: value '2026-11-02 10:00:00': "
        "timestamp has no time zone offset (write it as UTC-aware)"]


def test_tickets_resolution_arrives_later(store, tmp_path):
    cols = ["ticket_id", "opened_at", "resolved_at", "flow", "category", "channel"]
    t = {"ticket_id": "t1", "opened_at": "2026-11-02T10:00:00Z", "resolved_at": "", "flow": "deposit",
         "category": "declined_transaction", "channel": "chat"}
    ingest_files(store, [write_csv(tmp_path / "a.csv", [t], cols)], "tickets")
    r = ingest_files(store, [write_csv(tmp_path / "b.csv", [t | {"resolved_at": "2026-11-02T12:30:00Z"}], cols)], "tickets")
    assert r.rows_updated == 1
    assert store.fetchall("SELECT n_opened, n_resolved, resolution_s_sum FROM rollup_tickets") == [(1, 1, 9000.0)]
    bad = write_csv(tmp_path / "c.csv", [t | {"ticket_id": "t2", "resolved_at": "2026-11-02T09:00:00Z"}], cols)
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [bad], "tickets")
    assert problems_of(ei.value) == [f"{bad}, row 1, column resolved_at: value '2026-11-02 09:00:00': resolved_at is before opened_at"]


def test_surveys_whole_numbers_and_metrics_labels(store, tmp_path):
    cols = ["response_id", "ts", "flow", "score", "comment", "source"]
    s = {"response_id": "r1", "ts": "2026-11-02T10:00:00Z", "flow": "deposit", "score": "7.5",
         "comment": "", "source": "zigpoll"}
    f = write_csv(tmp_path / "s.csv", [s], cols)
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [f], "surveys")
    assert problems_of(ei.value) == [f"{f}, row 1, column score: value '7.5': is not a whole number"]
    mcols = ["ts", "name", "value", "labels"]
    m = [{"ts": "2026-11-02T10:00:00Z", "name": "x", "value": "1", "labels": '{"b":"2","a":"1"}'},
         {"ts": "2026-11-02T10:00:00Z", "name": "x", "value": "1", "labels": '{"a":"1","b":"2"}'},
         {"ts": "2026-11-02T10:01:00Z", "name": "x", "value": "2", "labels": ""}]
    r = ingest_files(store, [write_csv(tmp_path / "m.csv", m, mcols)], "metrics")
    assert (r.rows_new, r.rows_duplicate) == (2, 1)
    assert store.fetchall("SELECT labels FROM metrics ORDER BY ts") == [('{"a":"1","b":"2"}',), ("{}",)]
    bad = write_csv(tmp_path / "m2.csv", [m[0] | {"labels": "[1,2]"}], mcols)
    with pytest.raises(IngestError) as ei:
        ingest_files(store, [bad], "metrics")
    assert problems_of(ei.value) == [f"{bad}, row 1, column labels: value '[1,2]': is not a JSON object"]


def test_ingest_tables_accepts_arrow(store):
    t = pa.table({c: pa.array([decision(1)[c]]) for c in DECISION_COLS})
    r = ingest_tables(store, "decisions", [("mem", t)])
    assert r.rows_new == 1
