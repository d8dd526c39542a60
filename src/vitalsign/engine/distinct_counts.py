"""count_distinct over evenly spaced dates with bit masks, without joining rows to dates.

In a backfill the spine join copies every row once per date whose window covers it, and a
`COUNT(DISTINCT ...)` over those copies needs a hash set per account and date: the costliest
part of a backfill. When the dates are evenly spaced, the dates whose window holds a row
form a contiguous range that arithmetic finds, so each row becomes a bit mask of those
dates (62 dates per 64-bit integer). The OR of the masks per account and value marks the
dates at which the value counts; summing each date's bit per account gives the counts.
Two hash aggregates, no join and no sort. The OR is the backend's bitwise-OR aggregate
(DuckDB's and PostgreSQL's `bit_or` through Ibis, Spark's `bit_or` as a builtin, which
Ibis 12 does not compile); a backend without one scores such dates by the spine join.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

DATES_PER_MASK = 62  # 1 << 62 still fits a signed 64-bit integer
SECONDS_PER_DAY = 86400
EPOCH = dt.datetime(1970, 1, 1)
# backends whose SQL has a bitwise-OR aggregate that their Ibis compiler does not know
BUILTIN_BIT_OR = {"pyspark": "bit_or"}

BitOr = Callable[[ir.IntegerColumn], ir.IntegerScalar]


def bitwise_or(backend: Any) -> BitOr | None:
    """Return the backend's OR-of-integers aggregate, or None when it has none."""
    has_operation = getattr(backend, "has_operation", None)
    if has_operation is not None and has_operation(ops.BitOr):
        return lambda column: column.bit_or()
    builtin = BUILTIN_BIT_OR.get(getattr(backend, "name", ""))
    if builtin is None:
        return None
    int64 = ibis.dtype("int64")
    udf = ibis.udf.agg.builtin(name=builtin, signature=((int64,), int64))(_signature_of_bit_or)
    return lambda column: udf(column)


def _signature_of_bit_or(mask: Any) -> Any:  # pragma: no cover - never called
    """Stands for the backend's builtin aggregate in `bitwise_or`."""


def regular_step(dates: Sequence[dt.date]) -> int | None:
    """Return the spacing in days of sorted, evenly spaced dates (at least 3), else None."""
    if len(dates) < 3:
        return None
    steps = {(later - earlier).days for earlier, later in itertools.pairwise(dates)}
    return steps.pop() if len(steps) == 1 else None


def distinct_counts(
    rows: ir.Table,
    time: str,
    value: Any,
    dates: Sequence[dt.datetime],
    step: int,
    windows: dict[str, tuple[int, int]],
    bit_or: BitOr,
) -> ir.Table:
    """Return account_id, as_of and one count column per window.

    `rows` holds the table's rows already filtered by the signal's filter; `value` is the
    counted expression on them; `dates` are the instants scored (midnights); `windows` maps
    a result column to (offset, width) in days: the window of date T is
    [T - offset - width, T - offset). `bit_or` is the backend's aggregate (`bitwise_or`).
    """
    first, last = dates[0], dates[-1]
    widest = max(offset + width for offset, width in windows.values())
    rows = rows.filter(
        rows[time] >= first - dt.timedelta(days=widest),
        rows[time] < last,
        value.notnull(),
    )
    # days since the first date; a row at x is in the window of date i = x / step when
    # (x + offset) / step < i <= (x + offset + width) / step
    days = (rows[time].epoch_seconds() - (first - EPOCH).total_seconds()) / SECONDS_PER_DAY
    masks: dict[str, Any] = {}
    for column, (offset, width) in windows.items():
        lowest = ((days + offset) / step).floor().cast("int64") + 1
        highest = ((days + offset + width) / step).floor().cast("int64")
        for chunk in range(0, len(dates), DATES_PER_MASK):
            top = min(chunk + DATES_PER_MASK, len(dates)) - 1
            low = ibis.greatest(lowest, chunk) - chunk
            high = ibis.least(highest, top) - chunk
            # a BIGINT one (Ibis writes a bare `1`: an INT on Spark and PostgreSQL, where
            # 1 << 40 wraps or fails) shifted by an INT (PostgreSQL has no BIGINT << BIGINT)
            one = lowest * 0 + 1
            ones = (one << (high - low + 1).cast("int32")) - 1
            masks[f"{column}__{chunk}"] = ibis.ifelse(low <= high, ones << low.cast("int32"), 0)
    per_value = rows.select("account_id", v__=value, **masks)
    per_value = per_value.group_by("account_id", "v__").aggregate(
        **{name: bit_or(per_value[name].cast("int64")) for name in masks}
    )
    counts: dict[str, Any] = {}
    for column in windows:
        for i in range(len(dates)):
            chunk = i - i % DATES_PER_MASK
            bit = (per_value[f"{column}__{chunk}"] >> (i - chunk)) & 1
            counts[f"{column}@{i}"] = bit.sum()
    per_account = per_value.group_by("account_id").aggregate(**counts)
    # one row per account and date: an array of (date index, counts) cells, unnested. Not
    # pivot_longer/pivot_wider: on PostgreSQL, Ibis 12 quotes the pivoted names ('"x"')
    # and aggregates the cells with FIRST(), which PostgreSQL lacks.
    cells = ibis.array(
        [
            ibis.struct(
                {
                    "i": ibis.literal(i, "int64"),
                    **{c: per_account[f"{c}@{i}"].cast("int64") for c in windows},
                }
            )
            for i in range(len(dates))
        ]
    )
    unnested = per_account.select("account_id", cell__=cells.unnest())
    long = unnested.select(
        "account_id", i=unnested.cell__["i"], **{c: unnested.cell__[c] for c in windows}
    )
    spine = ibis.memtable({"i": list(range(len(dates))), "as_of": list(dates)})
    joined = long.join(spine, "i")
    return joined.select("account_id", "as_of", *windows)
