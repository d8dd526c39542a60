"""Retry quarantined rows: re-validate them against today's data and mapping, load those that pass.

A row quarantined because its account did not exist yet, or because the source's mapping was
wrong, loads once the account arrives or `vitalsign.yml` is fixed. A row of a source declared
in `vitalsign.yml` (by name, or a file its `path` covers) is re-read with that source's
current mapping; a row of a one-off `vitalsign ingest` with the mapping it was loaded with.

Exactly once: each retry is one transaction that first claims its rows (only rows still
`pending` at its start, each one updated), so two retries of the same rows at the same
moment cannot both load them: DuckDB aborts the second (a write conflict, nothing written)
and a retry after the first committed finds them no longer pending. A row that loads is
marked `loaded` (or `duplicate` when its key is already in the table) and leaves the pending
list; the others stay pending with their new reason.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from vitalsign.errors import VitalsignError
from vitalsign.ingest.files import canonical_table, expand_paths
from vitalsign.ingest.mapping import Mapping, parse_mapping
from vitalsign.ingest.readers import json_rows_relation
from vitalsign.ingest.runs import LoadReport, ensure_ingest_tables, run_in_transaction, utc_now
from vitalsign.ingest.staging import DROPPED, STAGED, load_staged
from vitalsign.store.conflicts import retry_on_conflict
from vitalsign.store.workspace import SourceBase, Workspace

RETRY_ROWS = "_vs_retry_rows"
UNRETRYABLE = ("unreadable line", "not a JSON object")
"""Reasons no mapping can cure (the raw line itself is broken): never retried."""


@dataclass(frozen=True)
class RetryOutcome:
    """What one retry did to the rows it tried: loaded, already there, or kept with a reason."""

    retried: int
    loaded: int
    duplicates: int
    kept: int
    reasons: dict[str, int] = field(default_factory=dict)
    reports: list[LoadReport] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people, e.g. 'Retried 3 rows: 2 loaded, 1 still quarantined'."""
        if not self.retried:
            return "Nothing to retry: no pending row that a retry could load."
        parts = [f"{self.loaded} loaded"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already in the table")
        parts.append(f"{self.kept} still quarantined")
        noun = "row" if self.retried == 1 else "rows"
        return f"Retried {self.retried} {noun}: {', '.join(parts)}."


def _retryable(
    ids: list[int] | None, source: str | None, table: str | None
) -> tuple[str, list[Any]]:
    """The WHERE clause (and parameters) of the pending rows a retry may try."""
    where = ["status = 'pending'"] + [f"reason NOT LIKE '{p}%'" for p in UNRETRYABLE]
    params: list[Any] = []
    if ids:
        where.append(f"quarantine_id IN ({', '.join('?' for _ in ids)})")
        params += ids
    for column, value in (("source", source), ("target_table", table)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(where), params


def declared_sources(workspace: Workspace) -> dict[str, SourceBase]:
    """The sources of `vitalsign.yml` by the label their rows carry (each glob expanded once).

    Database sources label their rows with their name; file sources with each file's path.
    """
    found: dict[str, SourceBase] = {}
    for source in workspace.config.sources:
        found.setdefault(source.name, source)
        path = getattr(source, "path", None)
        if path is None:
            continue
        try:
            files = expand_paths(path, workspace.root)
        except VitalsignError:  # the source's files are gone: nothing of it to match
            continue
        for file in files:
            found.setdefault(str(file), source)
    return found


def declared_source(workspace: Workspace, label: str) -> SourceBase | None:
    """The source of `vitalsign.yml` that quarantined rows labelled `label` came from, if any."""
    return declared_sources(workspace).get(str(Path(label)))


def retry_mapping(workspace: Workspace, label: str, table: str, stored: str) -> Mapping:
    """The mapping to retry rows with: the declared source's current one, else the stored one."""
    from vitalsign.ingest.sync import source_mapping

    source = declared_source(workspace, label)
    if source is not None:
        mapping, target = source_mapping(workspace, source)
        if target == table:
            return mapping
    return parse_mapping(json.loads(stored), f"quarantine mapping of {label}")


def retry_group(
    workspace: Workspace, source: str, table_name: str, mapping: Mapping, ids: list[int]
) -> LoadReport:
    """Retry the rows `ids` of one source and table in one transaction (one `retry` run)."""
    con = workspace.duckdb
    table = canonical_table(table_name, workspace)
    con.execute(f"DROP TABLE IF EXISTS {RETRY_ROWS}")
    con.execute(
        f"CREATE TEMP TABLE {RETRY_ROWS} AS SELECT quarantine_id AS _line, raw AS _raw "
        f"FROM quarantine WHERE quarantine_id IN (SELECT unnest(?::BIGINT[]))",
        [ids],
    )
    relation = json_rows_relation(con, source, RETRY_ROWS)

    def body(run_id: str) -> LoadReport:
        # Claim the rows: only those still pending now, each one written (so a retry of the
        # same rows running at this moment conflicts instead of loading them a second time).
        con.execute(
            f"DELETE FROM {RETRY_ROWS} WHERE _line NOT IN "
            "(SELECT quarantine_id FROM quarantine WHERE status = 'pending')"
        )
        con.execute(
            "UPDATE quarantine SET resolved_run_id = ? "
            f"WHERE quarantine_id IN (SELECT _line FROM {RETRY_ROWS})",
            [run_id],
        )
        report = load_staged(con, relation, table, mapping, run_id, source, quarantine=False)
        con.execute(
            f"UPDATE quarantine SET reason = s._reason, resolved_run_id = NULL FROM {STAGED} s "
            "WHERE quarantine.quarantine_id = s._line AND s._reason IS NOT NULL"
        )
        con.execute(
            "UPDATE quarantine SET status = CASE WHEN quarantine_id IN "
            f"(SELECT _line FROM {DROPPED}) THEN 'duplicate' ELSE 'loaded' END, "
            "resolved_at = ? WHERE quarantine_id IN "
            f"(SELECT _line FROM {STAGED} WHERE _reason IS NULL)",
            [utc_now()],
        )
        return report

    try:
        return run_in_transaction(con, source, table.name, "retry", body, {"ids": len(ids)})
    finally:
        con.execute(f"DROP TABLE IF EXISTS {RETRY_ROWS}")


def _groups(
    workspace: Workspace, ids: list[int] | None, source: str | None, table: str | None
) -> list[tuple[str, str, str, list[int]]]:
    """The chosen pending rows by source, table and stored mapping."""
    con = workspace.duckdb
    ensure_ingest_tables(con)
    where, params = _retryable(ids, source, table)
    rows = con.execute(
        "SELECT source, target_table, mapping, list(quarantine_id ORDER BY quarantine_id) "
        f"FROM quarantine WHERE {where} GROUP BY ALL ORDER BY 1, 2",
        params,
    ).fetchall()
    return [(str(a), str(b), str(c), [int(i) for i in d]) for a, b, c, d in rows]


def retry_reports(
    workspace: Workspace,
    ids: list[int] | None = None,
    source: str | None = None,
    table: str | None = None,
) -> list[LoadReport]:
    """Retry the pending rows chosen; one report per source, table and stored mapping.

    A group that meets another retry of the same rows runs again after a short wait (then
    only its rows still pending), so nothing loads twice.
    """
    reports = []
    for label, name, stored, chosen in _groups(workspace, ids, source, table):
        mapping = retry_mapping(workspace, label, name, stored)
        attempt = partial(retry_group, workspace, label, name, mapping, chosen)
        reports.append(retry_on_conflict(attempt, f"retrying quarantined rows of {label}"))
    return reports


def retry_quarantined(
    workspace: Workspace,
    ids: list[int] | None = None,
    source: str | None = None,
    table: str | None = None,
) -> RetryOutcome:
    """Retry pending quarantined rows (all, or those of `ids`, `source`, `table`) and count.

    >>> retry_quarantined(ws, table="tickets").summary()  # doctest: +SKIP
    'Retried 3 rows: 2 loaded, 1 still quarantined.'
    """
    chosen = [i for group in _groups(workspace, ids, source, table) for i in group[3]]
    if not chosen:
        return RetryOutcome(0, 0, 0, 0)
    reports = retry_reports(workspace, chosen)
    rows = workspace.duckdb.execute(
        "SELECT status, resolved_run_id, reason FROM quarantine "
        "WHERE quarantine_id IN (SELECT unnest(?::BIGINT[]))",
        [chosen],
    ).fetchall()
    mine = {r.run_id for r in reports}
    loaded = sum(1 for status, run, _ in rows if status == "loaded" and run in mine)
    duplicates = sum(1 for status, run, _ in rows if status == "duplicate" and run in mine)
    kept = Counter(str(reason) for status, _, reason in rows if status == "pending")
    return RetryOutcome(
        retried=loaded + duplicates + sum(kept.values()),
        loaded=loaded,
        duplicates=duplicates,
        kept=sum(kept.values()),
        reasons=dict(kept.most_common()),
        reports=reports,
    )
