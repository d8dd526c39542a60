"""Ingest a table or query of a SQL database (PostgreSQL) incrementally by a watermark column.

Rows are read in batches of `BATCH_ROWS` (see `database_batches`: append-only tables are
written batch by batch, keyed tables staged whole) with DuckDB's memory capped
(`MEMORY_LIMIT`), so a load's peak memory does not grow with the table. Every batch of one
load is written in ONE DuckDB transaction: a failure or a kill leaves nothing, and the
watermark moves only when it commits.

With a watermark column, a run reads rows whose watermark is at or after the last run's
maximum (rows at the boundary come again and count as duplicates, so none committed late at
the same value is missed); the new maximum is read in the same database snapshot and stored
in the same DuckDB transaction as the rows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import duckdb
import psycopg
from psycopg import sql

from vitalsign.errors import IngestError
from vitalsign.ingest.database_batches import (
    ROWS,
    load_in_batches,
    memory_limit,
    stage_rows,
)
from vitalsign.ingest.files import canonical_table
from vitalsign.ingest.formats import resolve_mapping
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.runs import LoadReport, ensure_ingest_tables, run_in_transaction, utc_now
from vitalsign.ingest.staging import CHANGES, LoadOptions, load_staged
from vitalsign.store.workspace import DatabaseSource, Workspace

BATCH_ROWS = 500_000  # rows per batch read from the database
MEMORY_LIMIT = "512MB"  # DuckDB's memory limit during a database load (the rest spills)


def database_url(source: DatabaseSource) -> str:
    """Return the source's URL, from `url` or the environment variable `url_env`."""
    if source.url:
        return source.url
    if source.url_env and os.environ.get(source.url_env):
        return os.environ[source.url_env]
    raise IngestError(
        f"source {source.name}: set `url` or `url_env` (an environment variable holding the URL)"
    )


def read_watermark(con: Any, source: str, item: str = "") -> str | None:
    """Return the stored watermark of a source (and item), or None."""
    ensure_ingest_tables(con)
    row = con.execute(
        "SELECT value FROM ingest_watermarks WHERE source = ? AND item = ?", [source, item]
    ).fetchone()
    return str(row[0]) if row else None


def write_watermark(con: Any, source: str, value: str, item: str = "") -> None:
    """Store a source's watermark (inside the caller's transaction)."""
    con.execute(
        "INSERT OR REPLACE INTO ingest_watermarks VALUES (?, ?, ?, ?)",
        [source, item, value, utc_now()],
    )


def _query(source: DatabaseSource, watermark: str | None) -> tuple[sql.Composed, sql.Composed]:
    if (source.table is None) == (source.query is None):
        raise IngestError(f"source {source.name}: give either `table` or `query`")
    if source.table is not None:
        base: sql.Composable = sql.SQL("SELECT * FROM {}").format(
            sql.Identifier(*source.table.split("."))
        )
    else:
        base = sql.SQL(str(source.query).strip().rstrip(";"))
    rows = sql.SQL("SELECT * FROM ({}) AS q").format(base)
    if source.watermark is None:
        return rows, sql.Composed([sql.SQL("SELECT NULL")])
    column = sql.Identifier(source.watermark)
    if watermark is not None:
        rows = sql.SQL("{} WHERE q.{} >= {}").format(rows, column, sql.Literal(watermark))
    maximum = sql.SQL("SELECT max(q.{})::text FROM ({}) AS q").format(column, rows)
    return sql.SQL("{} ORDER BY q.{}").format(rows, column), maximum


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextlib.contextmanager
def _snapshot(source: DatabaseSource) -> Iterator[Any]:
    """A read-only REPEATABLE READ transaction of the source database (one snapshot)."""
    try:
        with psycopg.connect(database_url(source), autocommit=False) as pg:
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            pg.read_only = True
            try:
                yield pg
            finally:
                if not pg.closed:
                    pg.rollback()
    except psycopg.Error as exc:
        raise IngestError(f"source {source.name}: {_first_line(exc)}") from exc


def checkpoint(con: Any) -> None:
    """Write the load to the database file now, while memory is still capped.

    Otherwise the next checkpoint (at the latest when the workspace closes) runs uncapped
    and takes more memory than the load did. Skipped while another connection of this
    process has a transaction open: DuckDB then checkpoints later by itself.
    """
    try:
        con.execute("CHECKPOINT")
    except duckdb.TransactionException:  # another transaction is open: a later checkpoint
        return


def load_database(
    workspace: Workspace,
    source: DatabaseSource,
    mapping: Mapping,
    table: str,
    options: LoadOptions = CHANGES,
    batch_rows: int = BATCH_ROWS,
) -> LoadReport:
    """Load the new rows of a database source; the watermark moves only if the load commits.

    Rows are read in batches of `batch_rows` (see the module's docstring); all of them are
    written in one transaction.

    >>> load_database(ws, ws.config.sources[0], Mapping(), "invoices")  # doctest: +SKIP
    """
    con = workspace.duckdb
    if options.snapshot and source.watermark:
        raise IngestError(
            f"source {source.name}: `mode: snapshot` reads the whole table each time; drop its "
            "`watermark` (a watermark reads only new rows, so every other key would vanish)"
        )
    resolved, table_name = resolve_mapping(mapping, table)
    target = canonical_table(table_name, workspace)
    old = read_watermark(con, source.name)
    rows, maximum = _query(source, old)
    stats = {"batches": 0}
    with _snapshot(source) as pg:
        with pg.cursor() as cur:  # the first statement takes the snapshot the rows come from
            cur.execute(maximum)
            found = cur.fetchone()
        new = found[0] if found and found[0] is not None else old

        def body(run_id: str) -> LoadReport:
            try:
                if target.append_only and not options.snapshot and not resolved.prefer:
                    report, stats["batches"] = load_in_batches(
                        con, pg, rows, target, resolved, run_id, source.name, batch_rows
                    )
                else:
                    relation, stats["batches"] = stage_rows(con, pg, rows, source.name, batch_rows)
                    report = load_staged(
                        con, relation, target, resolved, run_id, source.name, options=options
                    )
            except psycopg.Error as exc:
                raise IngestError(f"source {source.name}: {_first_line(exc)}") from exc
            if new is not None and new != old:
                write_watermark(con, source.name, new)
            return report

        try:
            with memory_limit(con, MEMORY_LIMIT):
                report = run_in_transaction(
                    con,
                    source.name,
                    target.name,
                    "database",
                    body,
                    {"table": source.table, "batch_rows": batch_rows},
                )
                checkpoint(con)
                return report
        finally:
            con.execute(f"DROP TABLE IF EXISTS {ROWS}")
