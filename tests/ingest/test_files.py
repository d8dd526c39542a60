"""Files into canonical tables: every format and encoding, and every row accounted for."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from ingest_support import add_account, count

from vitalsign.errors import IngestError
from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.runs import LoadReport
from vitalsign.store.workspace import Workspace

EVENTS_CSV = (
    "event_id,account_id,timestamp,event,quantity\n"
    "e1,a1,2024-01-01 10:00:00,login,1\n"
    "e2,a1,2024-01-02T11:00:00Z,export,2.5\n"
    "e3,a2,2024-01-03,login,\n"
)


def _balanced(report: LoadReport) -> LoadReport:
    assert (
        report.read == report.inserted + report.updated + report.unchanged + report.quarantined
    ), report
    assert count_runs(report) == 1
    return report


def count_runs(report: LoadReport) -> int:
    return 1 if report.run_id else 0


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    add_account(workspace, "a1", domain="acme.com", crm_id="crm-1")
    add_account(workspace, "a2", domain="beta.io", crm_id="crm-2")
    return workspace


def test_a_csv_loads_and_loading_it_again_adds_nothing(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text(EVENTS_CSV)
    first = _balanced(load_file(ws, source, "events"))
    assert (first.read, first.loaded, first.unchanged, first.quarantined) == (3, 3, 0, 0)
    again = _balanced(load_file(ws, source, "events"))
    assert (again.loaded, again.unchanged) == (0, 3)
    assert count(ws, "SELECT count(*) FROM events") == 3
    assert count(ws, "SELECT count(*) FROM ingest_runs WHERE status = 'ok'") == 2
    stamp = ws.duckdb.execute("SELECT timestamp FROM events WHERE event_id = 'e2'").fetchone()[0]
    assert str(stamp) == "2024-01-02 11:00:00"


def test_a_utf8_bom_and_latin1_file_are_detected(ws: Workspace, tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfaccount_id,name,created_at\nb1,Caf\xc3\xa9 SA,2023-01-01\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"account_id;name;created_at\nb2;Br\xfcder GmbH;2023-01-01\n")
    assert _balanced(load_file(ws, bom, "accounts")).loaded == 1
    assert _balanced(load_file(ws, latin, "accounts")).loaded == 1
    names = dict(ws.duckdb.execute("SELECT account_id, name FROM accounts").fetchall())
    assert names["b1"] == "Café SA" and names["b2"] == "Brüder GmbH"


def test_a_windows_1252_file_is_transcoded(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "cp.csv"
    source.write_bytes("account_id,name,created_at\nc1,“Quoted” Ltd,2023-01-01\n".encode("cp1252"))
    _balanced(load_file(ws, source, "accounts"))
    assert ws.duckdb.execute("SELECT name FROM accounts WHERE account_id = 'c1'").fetchone()[0] == (
        "“Quoted” Ltd"
    )


def test_a_wrongly_declared_encoding_quarantines_the_rows_it_cannot_decode(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "latin.csv"
    source.write_bytes(b"account_id,name,created_at\nd1,ok,2023-01-01\nd2,Br\xfcder,2023-01-01\n")
    utf8 = Mapping.model_validate({"options": {"encoding": "utf-8"}})
    report = _balanced(load_file(ws, source, "accounts", utf8))
    assert (report.loaded, report.quarantined) == (1, 1)
    line, reason = ws.duckdb.execute("SELECT line, reason FROM quarantine").fetchone()
    assert line == 3 and "invalid encoding" in reason


def test_an_unknown_encoding_name_is_a_clear_error(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_text(EVENTS_CSV)
    with pytest.raises(IngestError, match="encoding 'klingon' is unknown"):
        load_file(
            ws, source, "events", Mapping.model_validate({"options": {"encoding": "klingon"}})
        )


def test_gzip_tsv_json_ndjson_and_parquet_load_alike(ws: Workspace, tmp_path: Path) -> None:
    gz = tmp_path / "events.csv.gz"
    gz.write_bytes(gzip.compress(EVENTS_CSV.encode()))
    tsv = tmp_path / "events.tsv"
    tsv.write_text(
        EVENTS_CSV.replace(",", "\t").replace("e1", "t1").replace("e2", "t2").replace("e3", "t3")
    )
    rows = [
        {"event_id": f"j{i}", "account_id": "a1", "timestamp": "2024-02-01", "event": "login"}
        for i in range(3)
    ]
    array = tmp_path / "events.json"
    array.write_text(json.dumps(rows))
    ndjson = tmp_path / "events.ndjson.gz"
    ndjson.write_bytes(
        gzip.compress(
            "\n".join(json.dumps({**r, "event_id": "n" + r["event_id"]}) for r in rows).encode()
        )
    )
    parquet = tmp_path / "events.parquet"
    duckdb.execute(
        "COPY (SELECT 'p' || i AS event_id, 'a2' AS account_id, "
        "TIMESTAMP '2024-03-01' AS timestamp, "
        f"'login' AS event, i * 1.5 AS quantity FROM range(3) r(i)) TO '{parquet}'"
    )
    for path in (gz, tsv, array, ndjson, parquet):
        report = _balanced(load_file(ws, path, "events"))
        assert report.loaded == 3, (path, report)
    assert count(ws, "SELECT count(*) FROM events") == 15
    assert count(ws, "SELECT count(*) FROM events WHERE event_id = 'p2' AND quantity = 3") == 1


def test_a_truncated_csv_keeps_its_good_rows_and_quarantines_the_cut_one(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "cut.csv"
    source.write_text(EVENTS_CSV + "e4,a1,2024-01-0")
    report = _balanced(load_file(ws, source, "events"))
    assert (report.read, report.loaded, report.quarantined) == (4, 3, 1)
    line, reason = ws.duckdb.execute("SELECT line, reason FROM quarantine").fetchone()
    assert line == 5 and "missing columns" in reason


def test_a_truncated_json_array_or_gzip_loads_nothing_and_says_why(
    ws: Workspace, tmp_path: Path
) -> None:
    array = tmp_path / "cut.json"
    array.write_text('[{"event_id": "x", "account_id": "a1"}, {"event_id": ')
    with pytest.raises(IngestError, match="not a complete JSON array"):
        load_file(ws, array, "events")
    gz = tmp_path / "cut.csv.gz"
    lines = "".join(f"z{i},a1,2024-01-01,login,{i}\n" for i in range(200_000))
    whole = gzip.compress(("event_id,account_id,timestamp,event,quantity\n" + lines).encode())
    gz.write_bytes(whole[: len(whole) // 2])  # still more than the encoding sample
    with pytest.raises(IngestError, match="the gzip file is truncated"):
        load_file(ws, gz, "events")
    assert count(ws, "SELECT count(*) FROM events") == 0


def test_a_damaged_ndjson_line_is_quarantined_with_its_line_number(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "events.ndjson"
    good = '{"event_id": "k%d", "account_id": "a1", "timestamp": "2024-01-01", "event": "x"}'
    source.write_text("\n".join([good % 1, "", good % 2, '{"event_id": "k3", "acc', "[1, 2]"]))
    report = _balanced(load_file(ws, source, "events"))
    assert (report.read, report.loaded, report.quarantined) == (4, 2, 2)
    lines = [
        r[0] for r in ws.duckdb.execute("SELECT line FROM quarantine ORDER BY line").fetchall()
    ]
    assert lines == [4, 5]


def test_extra_columns_are_ignored_and_a_missing_required_column_is_an_error(
    ws: Workspace, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("event_id,account_id,timestamp,event,colour\nx1,a1,2024-01-01,login,red\n")
    assert _balanced(load_file(ws, extra, "events")).loaded == 1
    missing = tmp_path / "missing.csv"
    missing.write_text("event_id,account_id,event\nx2,a1,login\n")
    with pytest.raises(IngestError, match=r"no column for required field events\.timestamp"):
        load_file(ws, missing, "events")
    assert count(ws, "SELECT count(*) FROM events") == 1


def test_duplicate_keys_in_one_file_keep_the_preferred_row(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "subs.csv"
    source.write_text(
        "id,customer,start,active,seats\n"
        "s1,a1,2024-01-01,false,3\n"
        "s1,a1,2024-01-01,true,5\n"
        "s2,a2,2024-01-01,true,1\n"
    )
    mapping = Mapping.model_validate(
        {
            "columns": {
                "subscription_id": "id",
                "account_id": "customer",
                "started_at": "start",
                "seats": "seats",
            },
            "prefer": "active == 'true'",
        }
    )
    report = _balanced(load_file(ws, source, "subscriptions", mapping))
    assert (report.loaded, report.unchanged) == (2, 1)
    assert count(ws, "SELECT seats FROM subscriptions WHERE subscription_id = 's1'") == 5


def test_mappings_rename_cast_and_derive_with_the_safe_expression_language(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "tickets.csv"
    source.write_text(
        "Id,Org,Opened,Level,Minutes,state\n"
        "t1,a1,2024-01-01,P1,90,solved\n"
        "t2,a2,1704103200,P3,30,open\n"
    )
    mapping = Mapping.model_validate(
        {
            "columns": {
                "ticket_id": "'zd-' + Id",
                "account_id": "Org",
                "created_at": "Opened",
                "first_response_hours": "Minutes / 60",
                "priority": [
                    {"when": "Level == 'P1'", "then": "'urgent'"},
                    {"then": "'normal'"},
                ],
                "status": "upper(state)",
            }
        }
    )
    _balanced(load_file(ws, source, "tickets", mapping))
    rows = ws.duckdb.execute(
        "SELECT ticket_id, priority, first_response_hours, status, created_at FROM tickets "
        "ORDER BY 1"
    ).fetchall()
    assert [r[:4] for r in rows] == [
        ("zd-t1", "urgent", 1.5, "SOLVED"),
        ("zd-t2", "normal", 0.5, "OPEN"),
    ]
    assert str(rows[1][4]) == "2024-01-01 10:00:00"  # epoch seconds


def test_a_mapping_outside_the_expression_language_is_refused(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(EVENTS_CSV)
    mapping = Mapping.model_validate({"columns": {"event": "__import__('os').system('x')"}})
    with pytest.raises(IngestError, match="not allowed"):
        load_file(ws, source, "events", mapping)


def test_a_thousand_bad_rows_among_good_ones_are_all_accounted_for(
    ws: Workspace, tmp_path: Path
) -> None:
    lines = ["event_id,account_id,timestamp,event,quantity"]
    kinds = [
        "b{i},a1,not-a-date,login,1",  # unparsable timestamp
        "b{i},,2024-01-01,login,1",  # missing account
        "b{i},nobody,2024-01-01,login,1",  # unknown account
        "b{i},a1,2099-01-01,login,1",  # in the future
        "b{i},a1,2024-01-01,,1",  # missing event
        "b{i},a1,2024-01-01,login,lots",  # unparsable number
        "b{i},a1,1850-01-01,login,1",  # impossible date
        "b{i},a1,2024-01-01,login",  # a missing column
    ]
    for i in range(5000):
        lines.append(f"g{i},a{1 + i % 2},2024-01-01 00:00:{i % 60:02d},login,{i % 7}")
        if i % 5 == 0:
            lines.append(kinds[(i // 5) % len(kinds)].format(i=i))
    lines += [f"g{i},a1,2024-01-01,login,0" for i in range(40)]  # duplicates of good keys
    source = tmp_path / "mixed.csv"
    source.write_text("\n".join(lines) + "\n")
    report = _balanced(load_file(ws, source, "events"))
    assert (report.read, report.loaded, report.unchanged, report.quarantined) == (
        6040,
        5000,
        40,
        1000,
    )
    reasons = count(ws, "SELECT count(DISTINCT split_part(reason, ':', 1)) FROM quarantine")
    assert reasons >= 6
    assert count(ws, "SELECT count(*) FROM quarantine WHERE raw IS NULL OR line IS NULL") == 0
    again = _balanced(load_file(ws, source, "events"))
    assert (again.loaded, again.quarantined, again.new_in_quarantine) == (0, 1000, 0)
    assert count(ws, "SELECT count(*) FROM quarantine") == 1000


def test_a_run_that_fails_inside_its_transaction_leaves_every_table_as_before(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitalsign.ingest import staging

    source = tmp_path / "events.csv"
    source.write_text(EVENTS_CSV + "e9,nobody,2024-01-01,login,1\n")

    def explode(*args: object, **kwargs: object) -> int:
        raise RuntimeError("injected failure after the insert")

    monkeypatch.setattr(staging, "quarantine_rows", explode)
    with pytest.raises(RuntimeError, match="injected"):
        load_file(ws, source, "events")
    assert count(ws, "SELECT count(*) FROM events") == 0
    assert count(ws, "SELECT count(*) FROM quarantine") == 0
    assert count(ws, "SELECT count(*) FROM ingest_runs") == 0


def test_line_numbers_stay_right_after_a_line_the_reader_rejected(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "gap.csv"
    source.write_text(
        "event_id,account_id,timestamp,event,quantity\n"
        "e1,a1,2024-01-01,login,1\n"
        "e2,a1\n"
        "e3,a1,2024-01-01,login,1,extra\n"
        "e4,a1,2024-01-01,login,1\n"
        "e5,nobody,2024-01-01,login,1\n"
    )
    report = _balanced(load_file(ws, source, "events"))
    assert (report.loaded, report.quarantined) == (2, 3)
    lines = ws.duckdb.execute("SELECT line FROM quarantine ORDER BY line").fetchall()
    assert [line for (line,) in lines] == [3, 4, 6]


def test_a_bad_byte_in_an_ignored_column_still_quarantines_its_row(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "notes.csv"
    source.write_bytes(
        b"account_id,name,created_at,note\n"
        b"f1,ok,2023-01-01,fine\n"
        b"f2,ok,2023-01-01,Br\xfcder\n"
        b"f3,,2023-01-01,fine\n"
    )
    utf8 = Mapping.model_validate({"options": {"encoding": "utf-8"}})
    report = _balanced(load_file(ws, source, "accounts", utf8))
    assert (report.read, report.loaded, report.quarantined) == (3, 1, 2)
    assert count(ws, "SELECT count(*) FROM quarantine") == 2


def test_a_gzipped_file_is_recognised_by_its_content_not_its_name(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes(gzip.compress(EVENTS_CSV.encode()))
    assert _balanced(load_file(ws, source, "events")).loaded == 3
    array = tmp_path / "events.json"
    rows = [{"event_id": "z1", "account_id": "a1", "timestamp": "2024-01-01", "event": "x"}]
    array.write_bytes(gzip.compress(json.dumps(rows).encode()))
    assert _balanced(load_file(ws, array, "events")).loaded == 1
