"""Generated hostile files: good rows among every kind of bad line, in CSV and NDJSON.

For every file: each good row is stored exactly as written (the last line of a repeated
event id wins), every other line is in the quarantine with its line number and original
bytes or values, and read = inserted + updated + unchanged + quarantined.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vitalsign.ingest.files import load_file
from vitalsign.store.workspace import init_workspace

COLUMNS = ["event_id", "account_id", "timestamp", "event", "quantity"]
FIRST = {"event_id": "k0", "account_id": "a1", "timestamp": "2024-05-01", "event": "é", "q": 1.0}
BAD_KINDS = ["columns", "latin1", "cp1252", "nonfinite", "zone", "account", "not_object"]


@dataclass
class Row:
    """A generated line: its bytes, and what is stored if it is good."""

    data: bytes
    values: dict[str, str] | None = None  # the written values of a parsed row
    stored: tuple[str, str, dt.datetime, float] | None = None  # (id, event, time, quantity)
    reader_reject: bool = False  # rejected before parsing: compare bytes


@dataclass
class File:
    rows: list[Row] = field(default_factory=list)


texts = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x85\u2028\u2029"),
    min_size=1,
    max_size=8,
)
quantities = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)


@st.composite
def timestamps(draw: Any) -> tuple[str, dt.datetime]:
    """A time written in one of the ISO 8601 forms, and its UTC value."""
    local = draw(st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2024, 12, 31)))
    local = local.replace(microsecond=draw(st.sampled_from([0, 500000, 123456])))
    text = (
        local.strftime("%Y-%m-%d") + draw(st.sampled_from(["T", " "])) + local.strftime("%H:%M:%S")
    )
    if local.microsecond:
        text += f".{local.microsecond:06d}"
    form = draw(st.sampled_from(["naive", "Z", "+HH", "+HHMM", "+HH:MM"]))
    if form == "naive":
        return text, local
    if form == "Z":
        return text + "Z", local
    minutes = draw(st.integers(-14, 14)) * 60
    if form != "+HH" and abs(minutes) < 14 * 60:
        minutes += draw(st.sampled_from([0, 30, 45])) * (1 if minutes >= 0 else -1)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    suffix = {"+HH": f"{hours:02d}", "+HHMM": f"{hours:02d}{rest:02d}"}.get(
        form, f"{hours:02d}:{rest:02d}"
    )
    return f"{text}{sign}{suffix}", local - dt.timedelta(minutes=minutes)


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _encode(values: dict[str, str], ndjson: bool) -> bytes:
    if ndjson:
        return json.dumps(values, ensure_ascii=False).encode()
    return ",".join(_csv_field(values[c]) for c in COLUMNS).encode()


@st.composite
def good_rows(draw: Any, ndjson: bool) -> Row:
    event_id = draw(st.sampled_from([f"k{i}" for i in range(6)]))
    written, utc = draw(timestamps())
    event, quantity = draw(texts), draw(quantities)
    if ndjson and "\x00" in event:
        event = event.replace("\x00", "0")
    values = {
        "event_id": event_id,
        "account_id": "a1",
        "timestamp": written,
        "event": event,
        "quantity": repr(quantity),
    }
    return Row(_encode(values, ndjson), values, (event_id, event, utc, quantity))


@st.composite
def bad_rows(draw: Any, ndjson: bool) -> Row:
    kind = draw(st.sampled_from(BAD_KINDS))
    values = {
        "event_id": "bad" + str(draw(st.integers(0, 9))),
        "account_id": "a1",
        "timestamp": "2024-01-01",
        "event": "x",
        "quantity": "1",
    }
    if kind in ("latin1", "cp1252"):
        values["event"] = "MARK"
        byte = b"\xe9" if kind == "latin1" else b"\x81"
        return Row(_encode(values, ndjson).replace(b"MARK", b"x" + byte), reader_reject=True)
    if kind == "columns" or (kind == "not_object" and not ndjson):
        line = draw(st.sampled_from(["bad,a1", "bad,a1,2024-01-01,x,1,extra"]))
        return Row(line.encode(), reader_reject=True)
    if kind == "not_object":
        return Row(
            draw(st.sampled_from([b"[1, 2]", b'"text"', b'{"event_id": '])), reader_reject=True
        )
    if kind == "nonfinite":
        values["quantity"] = draw(st.sampled_from(["NaN", "inf", "-Infinity", "1e400"]))
    elif kind == "zone":
        values["timestamp"] = draw(
            st.sampled_from(["2024-01-01 10:00:00 EST", "2024-01-01T10:00:00+05:30:00"])
        )
    else:
        values["account_id"] = "nobody"
    return Row(_encode(values, ndjson), values)


@st.composite
def hostile_files(draw: Any, ndjson: bool) -> tuple[bytes, list[Row]]:
    first = {**FIRST, "quantity": "1.0"}
    first.pop("q")
    rows = [Row(_encode(first, ndjson), first, ("k0", "é", dt.datetime(2024, 5, 1), 1.0))]
    rows += draw(st.lists(st.one_of(good_rows(ndjson), bad_rows(ndjson)), max_size=25))
    lines = [r.data for r in rows]
    crlf = draw(st.booleans())
    head = b"" if ndjson else ",".join(COLUMNS).encode() + (b"\r\n" if crlf else b"\n")
    if draw(st.booleans()):
        head = b"\xef\xbb\xbf" + head
    body = (b"\r\n" if crlf else b"\n").join(lines)
    if draw(st.booleans()):  # a truncated last line: no line end, cut inside its key
        cut = b"k9,a1" if not ndjson else b'{"event_id": "k9", "acc'
        rows.append(Row(cut, reader_reject=True))
        body += (b"\r\n" if crlf else b"\n") + cut
    else:
        body += b"\r\n" if crlf else b"\n"
    return head + body, rows


TICKETS = {
    "ticket_id": "event_id",
    "account_id": "account_id",
    "created_at": "timestamp",
    "subject": "event",
    "satisfaction": "quantity",
}
STORED = {
    "events": "SELECT event_id, event, timestamp, quantity FROM events",
    "tickets": "SELECT ticket_id, subject, created_at, satisfaction FROM tickets",
}


def _check(data: bytes, rows: list[Row], ndjson: bool, table: str = "events") -> None:
    root = Path(tempfile.mkdtemp(prefix="vitalsign-hostile-"))
    try:
        ws = init_workspace(root / "ws")
        ws.duckdb.execute(
            "INSERT INTO accounts (account_id, name, created_at) VALUES ('a1', 'A', '2020-01-01')"
        )
        source = root / ("events.ndjson" if ndjson else "events.csv")
        source.write_bytes(data)
        mapping = TICKETS if table == "tickets" else None
        report = load_file(ws, source, table, mapping)
        total = report.inserted + report.updated + report.unchanged + report.quarantined
        assert report.read == total == len(rows), report
        expected: dict[str, tuple[str, dt.datetime, float]] = {}
        for row in rows:
            if row.stored is not None:
                expected[row.stored[0]] = row.stored[1:]
        stored = ws.duckdb.execute(f"{STORED[table]} WHERE account_id = 'a1'").fetchall()
        assert {r[0]: tuple(r[1:]) for r in stored} == expected
        first_line = 1 if ndjson else 2
        bad = {i + first_line: row for i, row in enumerate(rows) if row.stored is None}
        quarantined = dict(ws.duckdb.execute("SELECT line, raw FROM quarantine").fetchall())
        assert set(quarantined) == set(bad), (quarantined, bad)
        for line, row in bad.items():
            raw = json.loads(quarantined[line])
            if row.reader_reject:
                kept = raw.get("bytes_base64")
                original = base64.b64decode(kept) if kept else raw["line"].encode()
                assert original == row.data.removeprefix(b"\xef\xbb\xbf"), (line, raw)
            else:
                assert raw == row.values, (line, raw)
        assert (report.inserted, report.updated) == (len(expected), 0)
        again = load_file(ws, source, table, mapping)
        assert (again.inserted, again.unchanged) == (0, len(rows) - len(bad))
        ws.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


HOSTILE = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HOSTILE
@given(hostile_files(ndjson=False))
def test_a_hostile_csv_keeps_every_good_row_and_quarantines_every_bad_line(
    generated: tuple[bytes, list[Row]],
) -> None:
    _check(*generated, ndjson=False)


@HOSTILE
@given(hostile_files(ndjson=True))
def test_a_hostile_ndjson_keeps_every_good_row_and_quarantines_every_bad_line(
    generated: tuple[bytes, list[Row]],
) -> None:
    _check(*generated, ndjson=True)


@HOSTILE
@given(hostile_files(ndjson=False))
def test_a_hostile_csv_of_a_keyed_table_keeps_the_last_line_of_each_key(
    generated: tuple[bytes, list[Row]],
) -> None:
    _check(*generated, ndjson=False, table="tickets")
