"""What a backfill computes: only the dates not yet scored, and one query for all of them.

A backfill of many dates builds the one-pass signal table (engine/one_pass.py) once, keeps
it in the engine (Ibis `cache`: a temporary table on DuckDB and PostgreSQL, a cached
DataFrame on Spark) and reads it back a batch of dates at a time, so each table is read
once while the driver holds only one batch. A single date takes the one-date query, the
same as `score`. Extending a history (`new_only`) skips the dates that already have a
snapshot of the model's current version (same name and content hash), so adding a week
to a year costs one date, not a year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ibis.expr.types as ir

from vitalsign.engine.one_pass import one_pass_signal_table
from vitalsign.engine.signals import as_timestamp
from vitalsign.model.loader import LoadedModel

BatchSignals = Callable[[Sequence[dt.date]], ir.Table | None]


def scored_dates(connection: Any, model: LoadedModel) -> set[dt.date]:
    """Return the dates holding a snapshot of this version of the model (name and hash)."""
    rows = connection.execute(
        "SELECT DISTINCT snapshot_date FROM scores WHERE model_name = ? AND model_hash = ?",
        [model.name, model.hash],
    ).fetchall()
    return {row[0] for row in rows}


def dates_to_score(
    connection: Any, model: LoadedModel, dates: Sequence[dt.date], new_only: bool
) -> list[dt.date]:
    """Return the sorted dates a backfill computes: all, or those without a snapshot yet.

    >>> dates_to_score(ws.duckdb, model, weekly_dates, new_only=True)  # doctest: +SKIP
    [datetime.date(2025, 6, 9)]
    """
    ordered = sorted(set(dates))
    if not new_only:
        return ordered
    done = scored_dates(connection, model)
    return [day for day in ordered if day not in done]


@contextmanager
def shared_signals(
    engine: Any, model: LoadedModel, dates: Sequence[dt.date]
) -> Iterator[BatchSignals]:
    """Yield a function giving a batch's signal table, cut from one query for all `dates`.

    The query runs once, when the first batch asks, and is kept in the engine until the
    block ends. With one date there is nothing to share: the function gives None and the
    caller runs the one-date query.
    """
    if len(set(dates)) < 2:
        yield lambda batch: None
        return
    cached: list[ir.Table] = []

    def batch_signals(batch: Sequence[dt.date]) -> ir.Table:
        if not cached:
            cached.append(one_pass_signal_table(engine, model.spec, dates).cache())
        table = cached[0]
        return table.filter(table.as_of.isin([as_timestamp(day) for day in batch]))

    try:
        yield batch_signals
    finally:
        for table in cached:
            table.release()
