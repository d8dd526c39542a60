"""When a raised flag clears by itself: a windowed count falls once its events leave the window.

A flag such as `champion_left_60d >= 1` reads a count of rows in the last 60 days. Without a
new event it clears on its own once the k-th newest counted event (k = 1 for `>= 1`) is older
than the window: an event at time t is counted on scoring date T while T − 60 days ≤ t < T,
so it counts up to and including the day of t + 60 days and no longer after it.

>>> clears_after(con, spec, "champion_left", "acct-000207", dt.date(2025, 12, 1))  # doctest: +SKIP
'clears by itself after 2026-01-02, 60 days after the event on 2025-11-03, unless it happens again'
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import ibis

from vitalsign.engine.expressions import columns_of, compile_expression
from vitalsign.engine.signals import as_timestamp
from vitalsign.model.canonical import CANONICAL_TABLES, DELETED_AT
from vitalsign.model.expressions import Compare, Literal, Name, parse_expression
from vitalsign.model.spec import HealthModel


def events_needed(when: str) -> tuple[str, int] | None:
    """Return the count signal and the fewest rows that keep `name >= k` (or `> k`) true."""
    expr = parse_expression(when)
    if not (
        isinstance(expr, Compare)
        and isinstance(expr.left, Name)
        and isinstance(expr.right, Literal)
        and expr.op in (">=", ">")
        and isinstance(expr.right.value, int | float)
        and not isinstance(expr.right.value, bool)
    ):
        return None
    limit = float(expr.right.value)
    k = math.ceil(limit) if expr.op == ">=" else math.floor(limit) + 1
    return (expr.left.name, k) if k >= 1 else None


def clears_after(
    connection: Any, model: HealthModel, flag_name: str, account_id: str, day: dt.date
) -> str | None:
    """Say when the flag clears by itself without a new event, None when that cannot be told."""
    flag = model.flags.get(flag_name)
    needed = None if flag is None else events_needed(flag.when)
    if needed is None:
        return None
    name, k = needed
    signal = model.signals.get(name)
    window = None if signal is None else signal.window_days
    if signal is None or signal.table is None or signal.aggregate != "count" or not window:
        return None
    time_name = CANONICAL_TABLES[signal.table].time_column
    if time_name is None:
        return None
    end = as_timestamp(day)
    table = ibis.duckdb.from_connection(connection).table(signal.table)
    rows = table.filter(
        table.account_id == account_id,
        table[time_name] < end,
        table[time_name] >= end - dt.timedelta(days=window),
    )
    if signal.filter is not None:
        rows = rows.filter(compile_expression(signal.filter, columns_of(rows)))
    if DELETED_AT in rows.columns:
        rows = rows.filter(rows[DELETED_AT].isnull() | (rows[DELETED_AT] > end))
    times = rows.select(t=rows[time_name]).order_by(ibis.desc("t")).limit(k).execute()["t"]
    if len(times) < k:
        return None
    event = times.iloc[k - 1].to_pydatetime()
    last = (event + dt.timedelta(days=window)).date()
    which = "the event" if k == 1 else f"the {k}th newest event"
    return (
        f"clears by itself after {last}, {window} days after {which} on {event.date()}, "
        "unless it happens again"
    )
