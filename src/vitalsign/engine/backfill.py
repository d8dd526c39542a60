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

from vitalsign.engine.derived import window_offsets
from vitalsign.engine.one_pass import one_pass_signal_table
from vitalsign.engine.period_grid import grid_step
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


MAX_GRID_ROWS = 2_000_000
"""Above this many account × period rows, the one pass holds too much memory on DuckDB.

At 10,000 accounts (1.05 million grid rows for a 365-day window over 52 weekly dates) the
one-pass backfill peaked at 1.39 GiB; at 100,000 it needed more than 3 GB of DuckDB's
memory (docs/benchmarks.md). Larger backfills score each batch by the date join instead.
"""


def grid_rows(model: LoadedModel, dates: Sequence[dt.date], accounts: int) -> int:
    """Return the rows of the account × period grid the one pass would build (its widest)."""
    ordered = sorted(set(dates))
    if len(ordered) < 2:
        return 0
    reach = (
        max(
            (max(offsets) + (model.spec.signals[name].window_days or 0))
            for name, offsets in window_offsets(model.spec).items()
        )
        if model.spec.signals
        else 0
    )
    step = grid_step(ordered)
    return accounts * (((ordered[-1] - ordered[0]).days + reach) // step + 2)


@contextmanager
def shared_signals(
    engine: Any, model: LoadedModel, dates: Sequence[dt.date], accounts: int = 0
) -> Iterator[BatchSignals]:
    """Yield a function giving a batch's signal table, cut from one query for all `dates`.

    The query runs once, when the first batch asks, and is kept in the engine until the
    block ends. With one date there is nothing to share, and past MAX_GRID_ROWS the one
    pass costs too much memory: the function gives None and the caller runs its own query
    for each batch (the one-date query, or the date join).
    """
    if len(set(dates)) < 2 or grid_rows(model, dates, accounts) > MAX_GRID_ROWS:
        yield lambda batch: None
        return
    cached: list[ir.Table] = []

    def batch_signals(batch: Sequence[dt.date]) -> ir.Table:
        if not cached:
            table = one_pass_signal_table(engine, model.spec, dates)
            # Spark's cache reads the query's in-memory tables (the dates) when it is made,
            # which Ibis registers only when it executes: register them first
            register = getattr(engine, "_run_pre_execute_hooks", None)
            if register is not None:
                register(table)
            cached.append(table.cache())
        table = cached[0]
        return table.filter(table.as_of.isin([as_timestamp(day) for day in batch]))

    try:
        yield batch_signals
    finally:
        for table in cached:
            table.release()
