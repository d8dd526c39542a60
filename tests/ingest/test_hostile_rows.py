"""Hostile rows of issue 16: each good row stored exactly as written, each bad line quarantined."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from ingest_support import add_account, count

from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.runs import LoadReport
from vitalsign.store.workspace import Workspace

HEADER = b"event_id,account_id,timestamp,event\n"


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    add_account(workspace, "a1")
    return workspace


def _balanced(report: LoadReport) -> LoadReport:
    total = report.inserted + report.updated + report.unchanged + report.quarantined
    assert report.read == total, report
    return report


def _events(ws: Workspace) -> dict[str, str]:
    return dict(ws.duckdb.execute("SELECT event_id, event FROM events").fetchall())


def _quarantined_bytes(ws: Workspace) -> dict[int, bytes]:
    rows = ws.duckdb.execute("SELECT line, raw FROM quarantine").fetchall()
    found = {}
    for line, raw in rows:
        value = json.loads(raw)
        encoded = value.get("bytes_base64")
        found[line] = base64.b64decode(encoded) if encoded else value["line"].encode()
    return found


def test_a_repeated_event_id_keeps_the_last_line_of_the_file_whatever_its_size(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "events.csv"
    half = 400_000
    duckdb.execute(
        f"COPY (SELECT 'e' || (i % {half}) AS event_id, 'a1' AS account_id, "
        "'2024-01-01' AS timestamp, CASE WHEN i < "
        f"{half} THEN 'first' ELSE 'last' END AS event FROM range({2 * half}) r(i)) "
        f"TO '{source}' (HEADER)"
    )
    report = _balanced(load_file(ws, source, "events"))
    assert (report.inserted, report.unchanged) == (half, half)
    kept = ws.duckdb.execute("SELECT event, count(*) FROM events GROUP BY 1").fetchall()
    assert kept == [("last", half)]


def test_an_event_id_already_stored_is_never_rewritten(ws: Workspace, tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_bytes(HEADER + b"e1,a1,2024-01-01,stored\n")
    load_file(ws, first, "events")
    again = tmp_path / "again.csv"
    again.write_bytes(HEADER + b"e1,a1,2024-01-01,one\ne2,a1,2024-01-01,x\ne1,a1,2024-01-01,two\n")
    report = _balanced(load_file(ws, again, "events"))
    assert (report.inserted, report.unchanged) == (1, 2)
    assert _events(ws) == {"e1": "stored", "e2": "x"}


def test_offsets_in_every_iso_form_convert_to_utc_and_named_zones_are_quarantined(
    ws: Workspace, tmp_path: Path
) -> None:
    cases = {
        "t1": ("2025-01-02 03:04:05-05", dt.datetime(2025, 1, 2, 8, 4, 5)),
        "t2": ("2025-01-02T03:04:05+0200", dt.datetime(2025, 1, 2, 1, 4, 5)),
        "t3": ("2025-01-02T03:04:05.25+02", dt.datetime(2025, 1, 2, 1, 4, 5, 250000)),
        "t4": ("2025-01-02T03:04:05+02:00", dt.datetime(2025, 1, 2, 1, 4, 5)),
        "t5": ("2025-01-02T03:04:05Z", dt.datetime(2025, 1, 2, 3, 4, 5)),
        "t6": ("2025-01-02T03:04:05.5-0530", dt.datetime(2025, 1, 2, 8, 34, 5, 500000)),
        "t7": ("2025-01-02 03:04-05:00", dt.datetime(2025, 1, 2, 8, 4)),
    }
    ambiguous = ["2025-01-02 03:04:05 EST", "2025-01-02T03:04:05+05:30:00", "2025-01-02-05"]
    lines = [f"{k},a1,{text},x" for k, (text, _) in cases.items()]
    lines += [f"b{i},a1,{text},x" for i, text in enumerate(ambiguous)]
    source = tmp_path / "offsets.csv"
    source.write_bytes(HEADER + "\n".join(lines).encode() + b"\n")
    report = _balanced(load_file(ws, source, "events"))
    assert (report.inserted, report.quarantined) == (len(cases), len(ambiguous))
    stored = dict(ws.duckdb.execute("SELECT event_id, timestamp FROM events").fetchall())
    assert stored == {k: when for k, (_, when) in cases.items()}


def test_one_latin1_line_in_a_utf8_file_is_quarantined_with_its_bytes(
    ws: Workspace, tmp_path: Path
) -> None:
    bad = b"m2,a1,2024-01-01,Br\xfcder"
    source = tmp_path / "mixed.csv"
    source.write_bytes(HEADER + "m1,a1,2024-01-01,Zürich ✓\n".encode() + bad + b"\n")
    report = _balanced(load_file(ws, source, "events"))
    assert (report.inserted, report.quarantined) == (1, 1)
    assert _events(ws) == {"m1": "Zürich ✓"}
    assert _quarantined_bytes(ws) == {3: bad}
    reason = ws.duckdb.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "invalid encoding" in reason and "--encoding" in reason


def test_a_declared_encoding_decodes_only_the_lines_that_are_not_utf8(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.csv"
    utf8_line = "m1,a1,2024-01-01,Zürich ✓\n".encode()
    source.write_bytes(HEADER + utf8_line + b"m2,a1,2024-01-01,Br\xfc\n")
    latin = Mapping.model_validate({"options": {"encoding": "latin-1"}})
    report = _balanced(load_file(ws, source, "events", latin))
    assert (report.inserted, report.quarantined) == (2, 0)
    assert _events(ws) == {"m1": "Zürich ✓", "m2": "Brü"}


def test_non_finite_numbers_are_quarantined(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "numbers.csv"
    values = ["NaN", "inf", "-Infinity", "1e400", "nan", "1.5e3"]
    rows = [f"n{i},a1,2024-01-01,x,{v}" for i, v in enumerate(values)]
    source.write_text("event_id,account_id,timestamp,event,quantity\n" + "\n".join(rows) + "\n")
    report = _balanced(load_file(ws, source, "events"))
    assert (report.inserted, report.quarantined) == (1, 5)
    assert count(ws, "SELECT count(*) FROM events WHERE quantity = 1500") == 1
    reasons = [r for (r,) in ws.duckdb.execute("SELECT reason FROM quarantine").fetchall()]
    assert all("is not a valid float" in r for r in reasons), reasons


@pytest.mark.parametrize("where", ["after a BOM", "after the first megabyte"])
def test_an_invalid_utf8_byte_in_ndjson_quarantines_only_its_line(
    ws: Workspace, tmp_path: Path, where: str
) -> None:
    good = '{"event_id": "j%d", "account_id": "a1", "timestamp": "2024-01-01", "event": "é"}'
    filler = [good % i for i in range(64)]
    if where == "after the first megabyte":
        pad = "x" * 2000
        filler += [good.replace('"é"', f'"{pad}"') % (100 + i) for i in range(600)]
    bad = b'{"event_id": "bad", "account_id": "a1", "timestamp": "2024-01-01", "event": "\xfc"}'
    head = b"\xef\xbb\xbf" if where == "after a BOM" else b""
    body = "\n".join(filler).encode()
    source = tmp_path / "events.ndjson"
    source.write_bytes(head + body + b"\n" + bad + b"\n" + (good % 999).encode() + b"\n")
    report = _balanced(load_file(ws, source, "events"))
    assert (report.inserted, report.quarantined) == (len(filler) + 1, 1)
    assert _quarantined_bytes(ws) == {len(filler) + 1: bad}
    assert _events(ws)["j0"] == "é"


def test_an_undefined_cp1252_byte_quarantines_only_its_line(ws: Workspace, tmp_path: Path) -> None:
    bad = b"c2,a1,2024-01-01,\x81"
    source = tmp_path / "cp.csv"
    source.write_bytes(HEADER + "c1,a1,2024-01-01,“x”\n".encode("cp1252") + bad + b"\n")
    report = _balanced(load_file(ws, source, "events"))
    assert (report.inserted, report.quarantined) == (1, 1)
    assert _events(ws) == {"c1": "“x”"}
    assert _quarantined_bytes(ws) == {3: bad}


def test_a_json_key_with_a_backslash_and_a_quote_can_be_mapped(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "odd.ndjson"
    record = {"event_id": "k1", "account_id": "a1", "timestamp": "2024-01-01", 'a\\"b': "y"}
    source.write_text(json.dumps(record) + "\n")
    mapping = Mapping.model_validate({"columns": {"event": 'a\\"b'}})
    report = _balanced(load_file(ws, source, "events", mapping))
    assert report.inserted == 1
    assert _events(ws) == {"k1": "y"}


def test_a_line_the_declared_encoding_cannot_decode_says_so(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "cp.csv"
    source.write_bytes(
        HEADER + "c1,a1,2024-01-01,“x”\n".encode("cp1252") + b"c2,a1,2024-01-01,\x81\n"
    )
    mapping = Mapping.model_validate({"options": {"encoding": "cp1252"}})
    report = _balanced(load_file(ws, source, "events", mapping))
    assert (report.inserted, report.quarantined) == (1, 1)
    reason = ws.duckdb.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "neither UTF-8 nor cp1252, the declared encoding" in reason
    assert "--encoding cp1252" not in reason
