"""What the loads did, per source and per run, and the quarantine page by page (admin views).

`source_summaries` gives each source (a declared one of vitalsign.yml, or any file or
database label seen in `ingest_runs`) with its last successful sync, its last run and what
that run read, inserted, updated and quarantined, its failure if it failed, and its pending
quarantined rows (retries of quarantined rows are runs of the history, not syncs).
`list_runs` is the run history; `quarantine_page` the rows with reasons. The web's
/admin/sources page and its JSON are shells over these.

>>> [s.source for s in source_summaries(ws.duckdb, ws)]  # doctest: +SKIP
['desk', '/data/accounts.csv']
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from vitalsign.ingest.quarantine import QuarantinedRow
from vitalsign.ingest.retry import declared_sources
from vitalsign.ingest.runs import ensure_ingest_tables
from vitalsign.store.workspace import Workspace

QUARANTINE_STATUSES = ("pending", "loaded", "duplicate")


@dataclass(frozen=True)
class RunRecord:
    """One ingest run (a file, a database read, a retry) as `ingest_runs` holds it."""

    run_id: str
    source: str
    table: str
    kind: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    deleted: int
    error: str | None

    @property
    def duration_seconds(self) -> float | None:
        """How long the run took."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 2)


@dataclass(frozen=True)
class SourceSummary:
    """A source and table: its syncs, its last run's counts, its pending quarantined rows."""

    source: str
    table: str
    declared: str | None  # its name in vitalsign.yml, when declared there
    runs: int
    last_ok: dt.datetime | None
    last_run: RunRecord | None
    pending: int


_RUN_COLUMNS = (
    "run_id, source, target_table, kind, started_at, finished_at, status, rows_read, "
    "rows_inserted, rows_updated, rows_unchanged, rows_quarantined, rows_deleted, detail"
)


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, source, table, kind, started, finished, status, *counts, detail = row
    read, inserted, updated, unchanged, quarantined, deleted = (int(n) for n in counts)
    try:
        error = json.loads(detail).get("error") if detail else None
    except (ValueError, AttributeError):  # an older run's free-text detail
        error = None
    return RunRecord(
        str(run_id),
        str(source),
        str(table),
        str(kind),
        started,
        finished,
        str(status),
        read,
        inserted,
        updated,
        unchanged,
        quarantined,
        deleted,
        None if error is None else str(error),
    )


def list_runs(
    connection: Any, source: str | None = None, limit: int = 20, offset: int = 0
) -> list[RunRecord]:
    """Return ingest runs (of one source, or all), newest first."""
    ensure_ingest_tables(connection)
    where, params = ("WHERE source = ?", [source]) if source else ("", [])
    rows = connection.execute(
        f"SELECT {_RUN_COLUMNS} FROM ingest_runs {where} "
        "ORDER BY started_at DESC, run_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [_record(r) for r in rows]


def count_runs(connection: Any, source: str | None = None) -> int:
    """Return how many runs `list_runs` pages through."""
    where, params = ("WHERE source = ?", [source]) if source else ("", [])
    found = connection.execute(f"SELECT count(*) FROM ingest_runs {where}", params).fetchone()
    return int(found[0])


def source_summaries(connection: Any, workspace: Workspace) -> list[SourceSummary]:
    """Return every source seen in `ingest_runs` or declared in vitalsign.yml, by table."""
    ensure_ingest_tables(connection)
    seen = connection.execute(
        "SELECT source, target_table, count(*) FILTER (WHERE kind <> 'retry'), "
        "max(finished_at) FILTER (WHERE status = 'ok' AND kind <> 'retry'), "
        "arg_max(run_id, started_at) FILTER (WHERE kind <> 'retry') FROM ingest_runs GROUP BY ALL"
    ).fetchall()
    last_ids = [row[4] for row in seen]
    last = {
        r.run_id: r
        for r in (
            _record(row)
            for row in connection.execute(
                f"SELECT {_RUN_COLUMNS} FROM ingest_runs "
                "WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                [last_ids],
            ).fetchall()
        )
    }
    pending = {
        (source, table): int(n)
        for source, table, n in connection.execute(
            "SELECT source, target_table, count(*) FROM quarantine WHERE status = 'pending' "
            "GROUP BY ALL"
        ).fetchall()
    }
    summaries: dict[tuple[str, str], SourceSummary] = {}
    declared_by_label = declared_sources(workspace)
    for source, table, runs, last_ok, last_id in seen:
        found = declared_by_label.get(str(source))
        summaries[(source, table)] = SourceSummary(
            str(source),
            str(table),
            found.name if found else None,
            int(runs),
            last_ok,
            last.get(last_id),
            pending.get((source, table), 0),
        )
    for (source, table), count in pending.items():  # rows quarantined by a run since gone
        if (source, table) not in summaries:
            summaries[(source, table)] = SourceSummary(source, table, None, 0, None, None, count)
    named = {s.declared for s in summaries.values()}
    for declared in workspace.config.sources:
        if declared.name not in named:  # declared, never synced
            table = declared.into or ""
            summaries[(declared.name, table)] = SourceSummary(
                declared.name, table, declared.name, 0, None, None, 0
            )
    return sorted(summaries.values(), key=lambda s: (s.table, s.declared or "~", s.source))


def quarantine_page(
    connection: Any,
    source: str | None = None,
    status: str | None = "pending",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QuarantinedRow], int]:
    """Return one page of quarantined rows (newest first) and how many match in all."""
    ensure_ingest_tables(connection)
    where, params = ["1 = 1"], []
    for column, value in (("source", source), ("status", status)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    condition = " AND ".join(where)
    rows = connection.execute(
        "SELECT quarantine_id, run_id, source, target_table, line, raw, reason, status, "
        f"quarantined_at FROM quarantine WHERE {condition} "
        "ORDER BY quarantine_id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    total = connection.execute(f"SELECT count(*) FROM quarantine WHERE {condition}", params)
    page = [
        QuarantinedRow(int(q), run, src, table, line, json.loads(raw), reason, state, str(at))
        for q, run, src, table, line, raw, reason, state, at in rows
    ]
    return page, int(total.fetchone()[0])
