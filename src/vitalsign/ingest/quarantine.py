"""The quarantine: rows that could not be loaded, with their source, line, raw values and reason.

A quarantined row stays `pending` until a retry loads it (`loaded`) or finds its key already
in the table (`duplicate`). Retry (vitalsign.ingest.retry) re-runs the row's mapping over its
raw values, so rows quarantined for an unknown account load once the account exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vitalsign.errors import IngestError
from vitalsign.ingest.runs import LoadReport, ensure_ingest_tables
from vitalsign.store.workspace import Workspace


@dataclass(frozen=True)
class QuarantinedRow:
    """One quarantined row."""

    quarantine_id: int
    run_id: str
    source: str
    table: str
    line: int | None
    raw: dict[str, Any]
    reason: str
    status: str
    quarantined_at: str


def _row(record: tuple[Any, ...]) -> QuarantinedRow:
    qid, run_id, source, table, line, raw, reason, status, at = record
    return QuarantinedRow(
        int(qid), run_id, source, table, line, json.loads(raw), reason, status, str(at)
    )


_COLUMNS = "quarantine_id, run_id, source, target_table, line, raw, reason, status, quarantined_at"


def list_quarantine(
    workspace: Workspace,
    source: str | None = None,
    table: str | None = None,
    status: str | None = "pending",
    limit: int = 50,
) -> list[QuarantinedRow]:
    """Return quarantined rows, newest first, filtered by source, table and status.

    >>> list_quarantine(ws, table="events")  # doctest: +SKIP
    """
    con = workspace.duckdb
    ensure_ingest_tables(con)
    where, params = ["1 = 1"], []
    for column, value in (("source", source), ("target_table", table), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM quarantine WHERE {' AND '.join(where)} "
        "ORDER BY quarantine_id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [_row(r) for r in rows]


def count_quarantine(
    workspace: Workspace, source: str | None = None, table: str | None = None
) -> dict[str, int]:
    """Return the number of quarantined rows by status (of one source or table when given)."""
    con = workspace.duckdb
    ensure_ingest_tables(con)
    where, params = ["1 = 1"], []
    for column, value in (("source", source), ("target_table", table)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = con.execute(
        f"SELECT status, count(*) FROM quarantine WHERE {' AND '.join(where)} GROUP BY 1", params
    ).fetchall()
    return {status: int(n) for status, n in rows}


def show_quarantined(workspace: Workspace, quarantine_id: int) -> QuarantinedRow:
    """Return one quarantined row, or raise IngestError if there is none with that id."""
    con = workspace.duckdb
    ensure_ingest_tables(con)
    row = con.execute(
        f"SELECT {_COLUMNS} FROM quarantine WHERE quarantine_id = ?", [quarantine_id]
    ).fetchone()
    if row is None:
        raise IngestError(f"no quarantined row {quarantine_id}; see `vitalsign quarantine list`")
    return _row(row)


def retry_quarantine(
    workspace: Workspace,
    ids: list[int] | None = None,
    source: str | None = None,
    table: str | None = None,
) -> list[LoadReport]:
    """Re-run pending rows through their mapping; one report per source and mapping.

    Rows that now pass are loaded, rows whose key is already there become duplicates, and
    the others stay pending with their reason updated. A row of a source declared in
    vitalsign.yml uses that source's current mapping (vitalsign.ingest.retry).

    >>> retry_quarantine(ws, table="events")  # doctest: +SKIP
    """
    from vitalsign.ingest.retry import retry_reports

    return retry_reports(workspace, ids, source, table)
