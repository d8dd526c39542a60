"""Lines the text reader rejects: their line numbers, and their bytes exactly as in the file.

DuckDB's CSV reader (also used for NDJSON lines) skips a line it cannot read and records
it in a rejects table with its line number and byte position; its text there has
undecodable bytes replaced by `?`. The quarantine keeps the line as read from the file
instead: its text, plus its bytes in base64 when they are not valid UTF-8.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from vitalsign.ingest.encodings import is_gzip

REJECTS_TABLE = "_vs_rejects"
REJECTS_SCAN = "_vs_reject_scans"
GAPS = "_vs_reject_gaps"
REJECT_RAW = "_vs_reject_raw"
MAX_LINE_BYTES = 1 << 20
ENCODING_REASON = (
    "'invalid encoding (not UTF-8; its bytes are kept in base64: set the source''s encoding, "
    "e.g. --encoding cp1252, to decode such lines)'"
)  # a longer rejected line is kept up to this many bytes


def rejecting_options() -> str:
    """The read_csv options that record rejected lines in the rejects table."""
    return f"store_rejects=true, rejects_table='{REJECTS_TABLE}', rejects_scan='{REJECTS_SCAN}'"


def drop_rejects(con: Any) -> None:
    """Drop the rejects tables of an earlier read."""
    for name in (REJECTS_TABLE, REJECTS_SCAN, GAPS, REJECT_RAW):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def gaps_sql(first: int) -> str:
    """SQL filling GAPS: for each run of rejected lines, the good rows before it (g) and the
    lines rejected so far (n); a good row k is line `k + first - 1 + n` of the file."""
    return (
        f"CREATE OR REPLACE TEMP TABLE {GAPS} AS SELECT g, max(n) AS n FROM ("
        f"SELECT line - {first} - (row_number() OVER (ORDER BY line) - 1) AS g, "
        f"row_number() OVER (ORDER BY line) AS n FROM (SELECT DISTINCT line FROM {REJECTS_TABLE})"
        ") GROUP BY g"
    )


def line_raw(data: bytes) -> str:
    """The quarantine's raw JSON of an unreadable line: its text, and its bytes if not UTF-8.

    >>> line_raw(b"a,b")
    '{"line": "a,b"}'
    >>> line_raw(b"Br\\xfc")
    '{"line": "Br\\\\ufffd", "bytes_base64": "QnL8"}'
    """
    try:
        return json.dumps({"line": data.decode("utf-8")})
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return json.dumps({"line": text, "bytes_base64": base64.b64encode(data).decode("ascii")})


def record_reject_raw(con: Any, read_path: Path) -> None:
    """Fill REJECT_RAW (line, raw) with each rejected line's bytes as they are in the file."""
    positions = con.execute(
        f"SELECT line, min(line_byte_position) FROM {REJECTS_TABLE} GROUP BY line ORDER BY 2"
    ).fetchall()
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REJECT_RAW} (line BIGINT, raw VARCHAR)")
    if not positions:
        return
    opener = gzip.open if is_gzip(read_path) else open
    with opener(read_path, "rb") as handle:
        rows = [(int(line), line_raw(_read_line(handle, int(pos)))) for line, pos in positions]
    con.executemany(f"INSERT INTO {REJECT_RAW} VALUES (?, ?)", rows)


def _read_line(handle: Any, position: int) -> bytes:
    """The line around `position`, without its line end.

    DuckDB's byte position is sometimes one byte into the line (or at a blank line before
    it), so the line starts after the last line end before the position.
    """
    back = min(position, 4096)
    handle.seek(position - back)
    before = handle.read(back)
    start = position - back + before.rfind(b"\n") + 1 if b"\n" in before else position - back
    if before.endswith(b"\n") or not before:
        start = position
    handle.seek(start)
    data: bytes = handle.read(MAX_LINE_BYTES).lstrip(b"\r\n")
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    return line.removesuffix(b"\r")


def encoding_reason(declared: str | None) -> str:
    """SQL text of the reason for a line that cannot be decoded, given the declared encoding."""
    if declared is None:
        return ENCODING_REASON
    return (
        f"'invalid encoding (neither UTF-8 nor {declared.replace(chr(39), '')}, the declared "
        "encoding; its bytes are kept in base64: fix the line at the source, or declare the "
        "encoding it really has)'"
    )


def rejects_sql(declared: str | None = None) -> str:
    """SELECT _line, _raw, reason of the rejected lines (after `record_reject_raw`)."""
    return (
        "SELECT r.line AS _line, coalesce(any_value(w.raw), "
        "CAST(json_object('line', any_value(r.csv_line)) AS VARCHAR)) AS _raw, "
        "'unreadable line: ' || string_agg(DISTINCT CASE WHEN r.error_type = 'INVALID ENCODING' "
        f"THEN {encoding_reason(declared)} ELSE lower(replace(r.error_type, '_', ' ')) "
        "|| ' (' || r.error_message || ')' END, '; ') AS reason "
        f"FROM {REJECTS_TABLE} r LEFT JOIN {REJECT_RAW} w ON w.line = r.line GROUP BY r.line"
    )
