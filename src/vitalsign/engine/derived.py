"""Signals computed from other signals: ratio, change, trend, baseline, formula, attribute.

Each becomes an Ibis expression over the per-account columns of the signals it reads;
change, trend and baseline read their table signal over earlier windows too, the offsets
`window_offsets` asks the table aggregates to compute.
"""

from __future__ import annotations

from collections.abc import Callable
from graphlib import TopologicalSorter
from typing import Any

import ibis
import ibis.expr.types as ir

from vitalsign.engine.expressions import columns_of, compile_expression
from vitalsign.model.checks import signal_dependencies
from vitalsign.model.spec import HealthModel, Signal

Series = Callable[[str, int], Any]  # (signal, offset in days) -> its column over that window


def window_offsets(model: HealthModel) -> dict[str, set[int]]:
    """Return, per table signal, the window offsets (days before T) that must be computed."""
    offsets: dict[str, set[int]] = {
        name: {0} for name, signal in model.signals.items() if signal.table is not None
    }
    for signal in model.signals.values():
        for ref, count in (
            (signal.change, 2),
            (signal.trend, signal.windows),
            (signal.baseline, None),
        ):
            if ref is None:
                continue
            width = model.signals[ref].window_days or 0
            n = (signal.windows or 0) + 1 if count is None else count or 0
            offsets[ref] |= {i * width for i in range(n)}
    return offsets


def derived_in_order(model: HealthModel) -> list[str]:
    """Return the signals not read from a table, each after the signals it reads."""
    graph = {name: signal_dependencies(model, name) for name in model.signals}
    order = TopologicalSorter(graph).static_order()
    return [name for name in order if model.signals[name].table is None]


def derive(model: HealthModel, table: ir.Table, signal: Signal, series: Series) -> Any:
    """Return the expression of a signal not read from a table (account columns in `table`)."""

    def safe_div(num: Any, den: Any) -> Any:
        return ibis.ifelse(den == 0, ibis.null(), num.cast("float64") / den)

    if signal.attribute is not None:
        return compile_expression(signal.attribute, columns_of(table))
    if signal.ratio is not None:
        return safe_div(series(signal.ratio[0], 0), series(signal.ratio[1], 0))
    if signal.formula is not None:
        return compile_expression(signal.formula, lambda n: series(n, 0))
    ref = signal.change or signal.trend or signal.baseline
    assert ref is not None
    width = model.signals[ref].window_days or 0
    if signal.change is not None:
        previous = series(ref, width)
        return safe_div(series(ref, 0) - previous, previous)
    k = signal.windows or 2
    if signal.trend is not None:
        # least-squares slope per window over the last k windows (x = 0 oldest .. k-1 now)
        mean_x = (k - 1) / 2
        denominator = sum((i - mean_x) ** 2 for i in range(k))
        slope: Any = ibis.literal(0.0)
        for i in range(k):
            weight = ((k - 1 - i) - mean_x) / denominator
            slope = slope + series(ref, i * width).cast("float64") * weight
        return slope
    history: Any = ibis.literal(0.0)
    for i in range(1, k + 1):
        history = history + series(ref, i * width).cast("float64")
    return safe_div(series(ref, 0), history / k)
