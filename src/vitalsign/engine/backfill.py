"""What a backfill computes: only the dates not yet scored, and one query for all of them.

A backfill of many dates builds the one-pass signal table (engine/one_pass.py) once, keeps
it in the engine (Ibis `cache`: a temporary table on DuckDB and PostgreSQL, a cached
DataFrame on Spark) and reads it back a batch of dates at a time, so each table is read
once while the driver holds only one batch. When the account × period grid is larger than
MAX_GRID_ROWS, the one pass runs in account shards (ranges of account ids, each at most
MAX_GRID_ROWS of grid), each inserted into one temporary table of the engine: every
signal is per account, so the shards' rows are the whole query's, and the engine's window
operator holds one shard's grid at a time. A single date takes the one-date query, the
same as `score`. Extending a history (`new_only`) skips the dates that already have a
snapshot of the model's current version (same name and content hash), so adding a week
to a year costs one date, not a year.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ibis
import ibis.expr.types as ir

from vitalsign.engine.derived import window_offsets
from vitalsign.engine.one_pass import OnePassQuery, one_pass_signal_table
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
"""Above this many account × period rows, the one pass runs in account shards.

At 10,000 accounts (1.05 million grid rows for a 365-day window over 52 weekly dates) the
one-pass backfill peaked at 1.39 GiB; unsharded at 100,000 (10.5 million rows) it needed
more than 3 GB of DuckDB's memory and peaked at up to 9.4 GiB (docs/benchmarks.md).
"""
SHARDED_ENGINES = ("duckdb", "postgres")
"""Engines whose one pass is split into account shards (Spark spills its windows itself)."""


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


def shard_bounds(engine: Any, shards: int) -> list[Any]:
    """Return the account ids that split the accounts into `shards` ranges of equal size.

    The ranges are [None, b1), [b1, b2), ..., [bk-1, None); the engine ranks the ids, the
    driver receives only the bounds.
    """
    ids = engine.table("accounts").select("account_id").distinct()
    total = int(ids.count().execute())
    size = -(-total // shards)
    ranked = ids.mutate(rank__=ibis.row_number().over(order_by=ids.account_id))
    cuts = ranked.filter((ranked.rank__ % size == 0) & (ranked.rank__ > 0)).order_by("rank__")
    bounds = [None, *cuts.account_id.execute().tolist()]
    return [*dict.fromkeys(bounds), None]


class _ShardQuery(OnePassQuery):
    """The one-pass query restricted to the accounts with ids in [low, high)."""

    def __init__(self, engine: Any, model: Any, dates: Sequence[dt.date], low: Any, high: Any):
        super().__init__(engine, model, dates)
        self.low, self.high = low, high

    def _table(self, name: str) -> ir.Table:
        table = super()._table(name)
        if "account_id" not in table.columns:  # pragma: no cover - every canonical table has it
            return table
        if self.low is not None:
            table = table.filter(table.account_id >= self.low)
        if self.high is not None:
            table = table.filter(table.account_id < self.high)
        return table


def _sharded_table(engine: Any, model: LoadedModel, dates: Sequence[dt.date], shards: int) -> Any:
    """Run the one pass shard by shard into one temporary table of the engine; return it."""
    bounds = shard_bounds(engine, shards)
    name = f"vitalsign_signals_{uuid.uuid4().hex[:12]}"
    for number, (low, high) in enumerate(itertools.pairwise(bounds)):
        shard = _ShardQuery(engine, model.spec, dates, low, high).build()
        if number == 0:
            engine.create_table(name, shard, temp=True)
        else:
            engine.insert(name, shard)
    return name


@contextmanager
def shared_signals(
    engine: Any, model: LoadedModel, dates: Sequence[dt.date], accounts: int = 0
) -> Iterator[BatchSignals]:
    """Yield a function giving a batch's signal table, cut from one query for all `dates`.

    The query runs once, when the first batch asks, and is kept in the engine until the
    block ends; past MAX_GRID_ROWS it runs in account shards on DuckDB and PostgreSQL. With
    one date there is nothing to share: the function gives None and the caller runs the
    one-date query. On another engine past MAX_GRID_ROWS it gives None too, and the caller
    runs the date join for each batch.
    """
    rows = grid_rows(model, dates, accounts)
    kind = getattr(engine, "name", "")
    shards = max(1, -(-rows // MAX_GRID_ROWS)) if kind in SHARDED_ENGINES else 1
    if len(set(dates)) < 2 or (shards == 1 and rows > MAX_GRID_ROWS):
        yield lambda batch: None
        return
    cached: list[ir.Table] = []
    created: list[str] = []

    def batch_signals(batch: Sequence[dt.date]) -> ir.Table:
        if not cached and shards > 1:
            created.append(_sharded_table(engine, model, dates, shards))
            cached.append(engine.table(created[0]))
        elif not cached:
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
        if created:
            engine.drop_table(created[0], force=True)
        else:
            for table in cached:
                table.release()
