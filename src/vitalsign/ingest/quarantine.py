"""The quarantine: rows that could not be loaded, with their source, line, raw values and reason.

A quarantined row stays `pending` until a retry loads it (`loaded`) or finds its key already
in the table (`duplicate`). Retry re-runs the row's own mapping over its raw values, so rows
quarantined for an unknown account load once the account exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vitalsign.errors import IngestError
from vitalsign.ingest.files import canonical_table
from vitalsign.ingest.mapping import parse_mapping
from vitalsign.ingest.readers import json_rows_relation
from vitalsign.ingest.runs import LoadReport, ensure_ingest_tables, run_in_transaction, utc_now
from vitalsign.ingest.staging import DROPPED, STAGED, load_staged
from vitalsign.store.workspace import Workspace

RETRY_ROWS = "_vs_retry_rows"
UNRETRYABLE = ("unreadable line", "not a JSON object")


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


def count_quarantine(workspace: Workspace) -> dict[str, int]:
    """Return the number of quarantined rows by status."""
    con = workspace.duckdb
    ensure_ingest_tables(con)
    rows = con.execute("SELECT status, count(*) FROM quarantine GROUP BY 1").fetchall()
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
    the others stay pending with their reason updated.

    >>> retry_quarantine(ws, table="events")  # doctest: +SKIP
    """
    con = workspace.duckdb
    ensure_ingest_tables(con)
    where = ["status = 'pending'"] + [f"reason NOT LIKE '{p}%'" for p in UNRETRYABLE]
    params: list[Any] = []
    if ids:
        where.append(f"quarantine_id IN ({', '.join('?' for _ in ids)})")
        params += ids
    for column, value in (("source", source), ("target_table", table)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    groups = con.execute(
        "SELECT source, target_table, mapping, list(quarantine_id ORDER BY quarantine_id) "
        f"FROM quarantine WHERE {' AND '.join(where)} GROUP BY ALL ORDER BY 1, 2",
        params,
    ).fetchall()
    return [_retry_group(workspace, *group) for group in groups]


def _retry_group(
    workspace: Workspace, source: str, table_name: str, mapping_json: str, ids: list[int]
) -> LoadReport:
    con = workspace.duckdb
    table = canonical_table(table_name, workspace)
    mapping = parse_mapping(json.loads(mapping_json), f"quarantine mapping of {source}")
    con.execute(f"DROP TABLE IF EXISTS {RETRY_ROWS}")
    con.execute(
        f"CREATE TEMP TABLE {RETRY_ROWS} AS SELECT quarantine_id AS _line, raw AS _raw "
        f"FROM quarantine WHERE quarantine_id IN (SELECT unnest(?::BIGINT[]))",
        [ids],
    )
    relation = json_rows_relation(con, source, RETRY_ROWS)

    def body(run_id: str) -> LoadReport:
        report = load_staged(con, relation, table, mapping, run_id, source, quarantine=False)
        now = utc_now()
        con.execute(
            f"UPDATE quarantine SET reason = s._reason FROM {STAGED} s "
            "WHERE quarantine.quarantine_id = s._line AND s._reason IS NOT NULL"
        )
        con.execute(
            "UPDATE quarantine SET status = CASE WHEN quarantine_id IN "
            f"(SELECT _line FROM {DROPPED}) THEN 'duplicate' ELSE 'loaded' END, "
            "resolved_at = ?, resolved_run_id = ? WHERE quarantine_id IN "
            f"(SELECT _line FROM {STAGED} WHERE _reason IS NULL)",
            [now, run_id],
        )
        return report

    try:
        return run_in_transaction(con, source, table.name, "retry", body, {"ids": len(ids)})
    finally:
        con.execute(f"DROP TABLE IF EXISTS {RETRY_ROWS}")
