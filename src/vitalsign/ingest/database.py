"""Ingest a table or query of a SQL database (PostgreSQL) incrementally by a watermark column.

Rows are streamed with PostgreSQL's `COPY (query) TO STDOUT (FORMAT csv)` into a temporary
file and loaded by DuckDB's CSV reader like any file, so values keep their text for the
quarantine and nothing is inserted row by row. With a watermark column, a run reads rows
whose watermark is at or after the last run's maximum (rows at the boundary come again and
count as duplicates, so none committed late at the same value is missed); the new maximum
is read in the same database snapshot and stored in the same DuckDB transaction as the rows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vitalsign.errors import IngestError
from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import Mapping, ReaderOptions
from vitalsign.ingest.runs import LoadReport, ensure_ingest_tables, utc_now
from vitalsign.ingest.staging import CHANGES, LoadOptions
from vitalsign.store.workspace import DatabaseSource, Workspace

CSV_OPTIONS = ReaderOptions(
    format="csv", delimiter=",", quote='"', escape='"', header=True, encoding="utf-8"
)


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


def export_rows(source: DatabaseSource, watermark: str | None) -> tuple[Path, str | None]:
    """Copy the source's rows to a temporary CSV file; return it and the new watermark."""
    rows, maximum = _query(source, watermark)
    out = tempfile.NamedTemporaryFile(prefix="vitalsign-db-", suffix=".csv", delete=False)  # noqa: SIM115
    try:
        with psycopg.connect(database_url(source), autocommit=False) as pg, out:
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with pg.cursor() as cur:
                copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)")
                with cur.copy(copy_sql.format(rows)) as copy:
                    for block in copy:
                        out.write(block)
                cur.execute(maximum)
                found = cur.fetchone()
            pg.rollback()
    except psycopg.Error as exc:
        Path(out.name).unlink(missing_ok=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(f"source {source.name}: {first}") from exc
    new = found[0] if found and found[0] is not None else watermark
    return Path(out.name), new


def load_database(
    workspace: Workspace,
    source: DatabaseSource,
    mapping: Mapping,
    table: str,
    options: LoadOptions = CHANGES,
) -> LoadReport:
    """Load the new rows of a database source; the watermark moves only if the load commits.

    >>> load_database(ws, ws.config.sources[0], Mapping(), "invoices")  # doctest: +SKIP
    """
    con = workspace.duckdb
    if options.snapshot and source.watermark:
        raise IngestError(
            f"source {source.name}: `mode: snapshot` reads the whole table each time; drop its "
            "`watermark` (a watermark reads only new rows, so every other key would vanish)"
        )
    old = read_watermark(con, source.name)
    path, new = export_rows(source, old)
    try:
        csv_mapping = Mapping(options=CSV_OPTIONS).over(mapping)

        def keep_watermark(inner: Any) -> None:
            if new is not None and new != old:
                write_watermark(inner, source.name, new)

        return load_file(workspace, path, table, csv_mapping, source.name, keep_watermark, options)
    finally:
        path.unlink(missing_ok=True)
