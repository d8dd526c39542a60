"""Read a database query's rows in batches, so a load's memory does not grow with the table.

PostgreSQL's `COPY (query) TO STDOUT (FORMAT csv)` is streamed into one temporary CSV file
of at most `batch_rows` rows at a time (the only copy of the rows outside the databases),
read by DuckDB's CSV reader as text, so values keep their text for the quarantine and
nothing is inserted row by row. `_line` is the row's number in the query's result.

- Append-only tables (events) are loaded batch by batch (`load_in_batches`): each batch is
  staged, checked and written alone, so neither memory nor disk holds more than one batch.
  Stored ids are skipped as for a file; identical id-less events are counted over all
  batches (`occurrences`).
- Keyed tables (accounts, subscriptions, tickets…) need every row at once: the last copy of
  a key wins and a snapshot marks absent keys deleted. Their batches are appended to one
  temporary DuckDB table (`stage_rows`) and loaded once; such tables hold one row per
  account, subscription or ticket, not per event.

Everything happens in the caller's DuckDB transaction, under a memory cap (`memory_limit`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vitalsign.ingest.changes import LoadOptions
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.occurrences import start_counting, stop_counting
from vitalsign.ingest.readers import SourceRelation, quote_identifier, quote_literal
from vitalsign.ingest.runs import LoadReport
from vitalsign.ingest.staging import drop_staging, load_staged
from vitalsign.model.canonical import CanonicalTable

ROWS = "_vs_db_rows"  # the temporary table a keyed table's batches are appended to
SUMMED = ("read", "inserted", "updated", "unchanged", "quarantined", "repeated")


def read_columns(pg: Any, rows: sql.Composable) -> list[str]:
    """Return the column names of a query's result (without reading any row)."""
    with pg.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM ({}) AS q LIMIT 0").format(rows))
        return [d.name for d in cur.description or []]


@contextlib.contextmanager
def copy_batches(pg: Any, rows: sql.Composable, batch_rows: int) -> Iterator[Iterator[Path]]:
    """Stream the query's rows as CSV (no header) into temporary files of one batch each.

    A reader thread fills the next batch's file while the caller loads the current one
    (DuckDB releases the GIL), so reading and loading overlap; two files of at most
    `batch_rows` rows exist at any time. PostgreSQL sends every row of a COPY in its own
    message, so a batch always ends at a row boundary. The files are removed at the end; if
    the caller stops early, the query is cancelled.
    """
    copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(rows)
    paths = [Path(tempfile.mkstemp(prefix="vitalsign-db-", suffix=".csv")[1]) for _ in range(2)]
    free: queue.Queue[Path | None] = queue.Queue()
    for path in paths:
        free.put(path)
    ready: queue.Queue[Path | BaseException | None] = queue.Queue()

    def read() -> None:
        try:
            with pg.cursor() as cur, cur.copy(copy_sql) as copy:
                path, count = free.get(), 0
                out = path.open("wb") if path else None
                for block in copy:
                    if out is None:  # stopped: drain until the cancelled query ends
                        continue
                    out.write(block)
                    count += 1
                    if count == batch_rows:
                        out.close()
                        ready.put(path)
                        path, count = free.get(), 0
                        out = path.open("wb") if path else None
                if out is not None:
                    out.close()
                    if count:
                        ready.put(path)
            ready.put(None)
        except BaseException as exc:  # noqa: BLE001 (handed to the caller, which raises it)
            ready.put(exc)

    def batches() -> Iterator[Path]:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
            free.put(item)

    reader = threading.Thread(target=read, name="vitalsign-db-copy", daemon=True)
    reader.start()
    try:
        yield batches()
    finally:
        try:
            if reader.is_alive():  # the caller stopped early: stop the query and the thread
                free.put(None)
                pg.cancel_safe()
        except psycopg.Error:  # the server is gone: the reader fails on its own
            pass
        finally:
            reader.join()
            for path in paths:
                path.unlink(missing_ok=True)


def _reader(path: Path, names: list[str]) -> str:
    """DuckDB's reader of one batch file: every column as text, nothing guessed."""
    spec = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    return (
        f"read_csv({quote_literal(str(path))}, columns={spec}, header=false, delim=',', "
        "quote='\"', escape='\"', auto_detect=false, encoding='utf-8')"
    )


def stage_rows(
    con: Any, pg: Any, rows: sql.Composable, label: str, batch_rows: int
) -> tuple[SourceRelation, int]:
    """Append the query's rows, batch by batch, to a temporary table of text columns.

    Returns a relation over it (`_line` = the row's number in the result) and the number of
    batches read.
    """
    names = read_columns(pg, rows)
    columns = ", ".join(f"{quote_identifier(n)} VARCHAR" for n in names)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS} (_line BIGINT{', ' if names else ''}{columns})"
    )
    read = 0
    count = 0
    with copy_batches(pg, rows, batch_rows) as batches:
        for path in batches:
            added = con.execute(
                f"INSERT INTO {ROWS} SELECT {read} + row_number() OVER (), * "
                f"FROM {_reader(path, names)}"
            ).fetchone()[0]
            read += int(added)
            count += 1
    every = ", ".join(quote_identifier(n) for n in names)
    relation = SourceRelation(label, f"SELECT * FROM {ROWS}", names)
    relation.unnumbered_sql = (
        f"SELECT CAST(NULL AS BIGINT) AS _line, {every or '1 AS _none'} FROM {ROWS}"
    )
    return relation, count


def load_in_batches(
    con: Any,
    pg: Any,
    rows: sql.Composable,
    target: CanonicalTable,
    mapping: Mapping,
    run_id: str,
    label: str,
    batch_rows: int,
) -> tuple[LoadReport, int]:
    """Load an append-only table batch by batch; return the summed counts and the batches."""
    names = read_columns(pg, rows)
    total = LoadReport(label, target.name, read=0, run_id=run_id)
    count = 0
    before = con.execute(f"SELECT max(rowid) FROM {target.name}").fetchone()[0]
    options = LoadOptions(after_row=-1 if before is None else int(before))
    start_counting(con)  # created in the load's transaction: a failure rolls it back
    with copy_batches(pg, rows, batch_rows) as batches:
        for path in batches:
            reader = _reader(path, names)
            numbered = f"SELECT {total.read} + row_number() OVER () AS _line, * FROM {reader}"
            relation = SourceRelation(label, numbered, names)
            relation.unnumbered_sql = f"SELECT CAST(NULL AS BIGINT) AS _line, * FROM {reader}"
            report = load_staged(con, relation, target, mapping, run_id, label, options=options)
            drop_staging(con)
            total = dataclasses.replace(
                total,
                new_in_quarantine=total.new_in_quarantine + report.new_in_quarantine,
                **{name: getattr(total, name) + getattr(report, name) for name in SUMMED},
            )
            count += 1
    stop_counting(con)  # not in a `finally`: after a failed statement DuckDB refuses it
    return total, count


@contextlib.contextmanager
def memory_limit(con: Any, limit: str) -> Iterator[None]:
    """Cap DuckDB's memory for the duration (what exceeds it spills to disk)."""
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.execute(f"SET memory_limit = {quote_literal(limit)}")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = {quote_literal(str(before))}")
