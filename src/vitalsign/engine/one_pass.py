"""The signal table of many dates from one pass over each table: period partials, not a join.

The dates of a backfill lie on a grid of step s days (the greatest common divisor of their
gaps; s = 7 for a weekly backfill) ending at the last date A. Every row falls in one period
p = floor((t - A) / s); a window [T - o - w, T - o) of a date T on the grid is then a run of
whole periods plus, at each end, a piece of one period cut at a whole day. So each table is
grouped once by account and period into partial aggregates (for the whole period and for
each piece the model's windows need; signals with the same filter share them), and each
date's window is a frame of preceding periods plus the pieces at its ends: sums and counts
add, minimum and maximum take the least and greatest, days-since the greatest time,
`latest` the value at the greatest time. For product events (`GRID_TABLES`: rows in most
periods) the partials are laid on a dense account × period grid read by lags and framed
window functions; for the sparse tables (tickets, invoices, ...) each partial is joined to
the dates whose windows hold its period (lag = date period - period) and aggregated per
account and date, which avoids a mostly empty grid. No row is copied once per date.

Rows deleted by a snapshot source (`deleted_at`) count only at dates before their deletion,
which no partial can express: those few rows are joined to the dates as before and merged.
`percentile` does not decompose and keeps the date join; `count_distinct` uses the bit
masks of `distinct_counts` on the grid. Values equal `SignalQuery`'s (tests/engine/
test_backfill_one_pass.py, rtol 1e-9).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from vitalsign.engine.derived import window_offsets
from vitalsign.engine.distinct_counts import distinct_counts
from vitalsign.engine.expressions import latest_value
from vitalsign.engine.period_grid import Geometry, Lagged, geometry, grid_step
from vitalsign.engine.signals import SignalQuery, _variant_column, as_timestamp
from vitalsign.model.canonical import CANONICAL_TABLES, DELETED_AT
from vitalsign.model.spec import HealthModel

DAY_US = 86_400_000_000
MAX_LAGS = 8
"""A frame of whole periods up to this wide is summed from lags, a wider one is framed."""
MAX_PERIODS = 1_500
"""Past this many grid periods (dates far apart on a fine grid), the date join is cheaper."""

GRID_TABLES = frozenset({"events"})
"""The tables with rows in most periods of most accounts (product events):
their partials are laid on the dense account × period grid and read with window functions.
The partials of other tables (tickets, invoices, surveys: a few rows per account and month)
are joined to the dates they count at, which costs less than a grid that is mostly empty
(at 10,000 accounts: tickets 1.9 -> 0.7 s, invoices 2.3 -> 1.4 s CPU; events 5.0 -> 5.7 s,
docs/benchmarks.md)."""

# measures kept per aggregation: n count, s sum, c values counted, m min/max, t time, v value
MEASURES = {
    "count": ("n",),
    "sum": ("s",),
    "mean": ("s", "c"),
    "min": ("m",),
    "max": ("m",),
    "days_since_last": ("t",),
    "latest": ("t", "v"),
}


class OnePassQuery(SignalQuery):
    """`SignalQuery` whose windowed signals come from period partials (see the module)."""

    def __init__(self, backend: Any, model: HealthModel, dates: Sequence[dt.date]) -> None:
        super().__init__(backend, model, dates)
        self.step = 0 if self.single else grid_step(self.dates)
        self.last = as_timestamp(self.dates[-1])
        self.partial_types: Any = None  # the partials' schema, set by _grid_measures
        self.owners: list[str] = []  # the signals whose partials are computed, in order
        self.on_grid = (
            [(self.dates[-1] - d).days // self.step for d in self.dates] if self.step else []
        )

    def _grid_fits(self, reach: int) -> bool:
        return bool(self.step) and self.on_grid[0] + reach // self.step + 2 <= MAX_PERIODS

    # -- count_distinct: the bit masks of every grid date, kept for the dates asked ----------
    def _mask_step(self) -> int | None:
        if self.single or self.bit_or is None or not self._grid_fits(0):
            return None
        return self.step

    def _distinct_counts(self, table_name: str, name: str, step: int) -> ir.Table:
        if len(self.on_grid) == self.on_grid[0] + 1:  # every grid date is asked
            return super()._distinct_counts(table_name, name, step)
        time_name = CANONICAL_TABLES[table_name].time_column
        assert time_name is not None and self.bit_or is not None
        signal = self.model.signals[name]
        rows = self._source(table_name, [name])
        if signal.filter is not None:
            rows = rows.filter(rows[f"f__{name}"])
        value = rows[f"x__{name}"] if signal.value is not None else rows[str(signal.column)]
        windows = {
            _variant_column(name, o): (o, signal.window_days or 0) for o in self._offsets_of(name)
        }
        grid = [self.last - dt.timedelta(days=k * step) for k in range(self.on_grid[0], -1, -1)]
        counts = distinct_counts(rows, time_name, value, grid, step, windows, self.bit_or)
        assert self.spine is not None
        return counts.join(self.spine, "as_of").select(counts)

    def _offsets_of(self, name: str) -> set[int]:
        return window_offsets(self.model)[name]

    # -- windowed signals -----------------------------------------------------------------
    def _windowed_aggregate(self, table_name: str, variants: dict[str, set[int]]) -> ir.Table:
        signals = self.model.signals
        reach = max(o + (signals[n].window_days or 0) for n, offs in variants.items() for o in offs)
        split = {n: o for n, o in variants.items() if signals[n].aggregate in MEASURES}
        rest = {n: o for n, o in variants.items() if n not in split}
        if not split or not self._grid_fits(reach):
            return super()._windowed_aggregate(table_name, variants)
        time_name = CANONICAL_TABLES[table_name].time_column
        assert time_name is not None
        source = self._source(table_name, split)
        live = source
        if DELETED_AT in source.columns:
            live = source.filter(source[DELETED_AT].isnull())
        measured = self._grid_measures(live, table_name, split)
        if DELETED_AT in source.columns:
            deleted = source.filter(source[DELETED_AT].notnull())
            measured = self._merge(
                measured, self._joined_measures(deleted, time_name, split), split
            )
        result = measured.select(*self.keys, **self._finish_measures(measured, split))
        if rest:
            other = super()._windowed_aggregate(table_name, rest)
            result = _outer(result, other, self.keys)
        return result

    def _condition(self, rows: ir.Table, name: str) -> Any:
        return rows[f"f__{name}"] if self.model.signals[name].filter is not None else None

    def _measures(
        self,
        rows: ir.Table,
        name: str,
        where: Any,
        time: Any,
        prefix: str,
        kinds: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The partial aggregates of signal `name` over the rows where `where` holds."""
        signal = self.model.signals[name]
        value: Any = rows[f"x__{name}"] if signal.value is not None else None
        if value is None and signal.column is not None:
            value = rows[signal.column]
        out: dict[str, Any] = {}
        for kind in MEASURES[str(signal.aggregate)] if kinds is None else kinds:
            if kind == "n":
                out[prefix + kind] = rows.count(where=where)
            elif kind == "s":
                out[prefix + kind] = value.sum(where=where)
            elif kind == "c":
                out[prefix + kind] = value.count(where=where)
            elif kind == "m" and signal.aggregate == "min":
                out[prefix + kind] = value.min(where=where)
            elif kind == "m":
                out[prefix + kind] = value.max(where=where)
            elif kind == "t":
                out[prefix + kind] = time.max(where=where)
            else:
                backend = getattr(self.backend, "name", "")
                out[prefix + kind] = latest_value(value, time, where, backend)
        return out

    def _owner(self, name: str, kind: str) -> str:
        """The first signal of the table whose partial `kind` is the same as `name`'s.

        Signals with the same filter (and value, for sums and values) share their partials:
        `logins_7d` and `logins_30d` count the same rows per period.
        """
        signals = self.model.signals

        def key(other: str) -> tuple[Any, ...]:
            s = signals[other]
            if kind in "nt":
                return (s.filter,)
            if kind == "m":
                return (s.filter, s.value, s.column, s.aggregate)
            return (s.filter, s.value, s.column)

        wanted = key(name)
        for other in self.owners:
            if kind in MEASURES[str(signals[other].aggregate)] and key(other) == wanted:
                return other
        return name  # pragma: no cover - `name` is among the owners

    def _whole(self, name: str, kind: str) -> str:
        return f"w__{self._owner(name, kind)}__{kind}"

    def _piece(self, name: str, a: int, b: int, kind: str) -> str:
        return f"c__{self._owner(name, kind)}__{a}_{b}__{kind}"

    def _shapes(self, variants: dict[str, set[int]]) -> dict[tuple[str, int], Geometry]:
        signals = self.model.signals
        return {
            (name, offset): geometry(offset, signals[name].window_days or 0, self.step)
            for name, offsets in variants.items()
            for offset in offsets
        }

    def _grid_measures(
        self, rows: ir.Table, table_name: str, variants: dict[str, set[int]]
    ) -> ir.Table:
        """Measures per account and date from period partials (on a grid, or joined)."""
        time_name = CANONICAL_TABLES[table_name].time_column
        assert time_name is not None
        step_us = self.step * DAY_US
        shapes = self._shapes(variants)
        lags = [lag for g in shapes.values() for lag, _, _ in g.pieces]
        lags += [g.frame[0] for g in shapes.values() if g.frame is not None]
        first_period = -self.on_grid[0] - max(lags)
        start = self.last + dt.timedelta(days=first_period * self.step)
        rows = rows.filter(rows[time_name] >= start, rows[time_name] < self.last)
        since = rows[time_name].delta(ibis.literal(self.last, "timestamp"), unit="microsecond")
        period = (since.cast("float64") / step_us).floor().cast("int64")
        rows = rows.mutate(p__=period, in__=since - period * step_us)
        time, inside = rows[time_name], rows["in__"]
        partial: dict[str, Any] = {}
        self.owners = list(variants)
        for name in variants:
            kinds = MEASURES[str(self.model.signals[name].aggregate)]
            kinds = tuple(k for k in kinds if self._owner(name, k) == name)
            where = self._condition(rows, name)
            partial |= self._measures(rows, name, where, time, f"w__{name}__", kinds)
        for name, a, b in sorted(
            {(n, a, b) for (n, _), g in shapes.items() for _, a, b in g.pieces}
        ):
            for kind in MEASURES[str(self.model.signals[name].aggregate)]:
                owner, column = self._owner(name, kind), self._piece(name, a, b, kind)
                if column in partial:
                    continue
                parts = [
                    self._condition(rows, owner),
                    inside >= a * DAY_US if a else None,  # a period's rows are all >= 0 ...
                    inside < b * DAY_US if b < self.step else None,  # ... and < step days in
                ]
                where = functools.reduce(operator.and_, [c for c in parts if c is not None])
                prefix = f"c__{owner}__{a}_{b}__"
                partial |= self._measures(rows, owner, where, time, prefix, [kind])
        partials = rows.group_by(["account_id", "p__"]).aggregate(**partial)
        self.partial_types = partials.schema()
        if table_name not in GRID_TABLES:
            return self._dated_partials(partials, shapes)
        periods = ibis.memtable({"p__": list(range(first_period, 1))})
        accounts = partials.select("account_id").distinct()
        joined = accounts.cross_join(periods).left_join(partials, ["account_id", "p__"])
        grid = joined.select(accounts.account_id, periods.p__, *[joined[c] for c in partial])
        lagged = Lagged(grid)
        layout = {key: self._parts(lagged, *key, shape) for key, shape in shapes.items()}
        dates = ibis.memtable(
            {"p__": [-k for k in self.on_grid], "as_of": [as_timestamp(d) for d in self.dates]}
        )
        dated = grid.mutate(**lagged.columns).join(dates, "p__")
        dated = dated.select("account_id", dates.as_of, *lagged.columns)
        columns: dict[str, Any] = {}
        for (name, offset), by_kind in layout.items():
            columns |= self._combine(dated, name, offset, by_kind)
        dated = dated.select("account_id", "as_of", **columns)
        for (name, offset), by_kind in layout.items():
            if by_kind.get("v") and None in by_kind["v"]:  # a wide frame's latest value
                dated = self._latest_of_frame(dated, partials, name, offset, step_us)
        return dated

    def _dated_partials(
        self, partials: ir.Table, shapes: dict[tuple[str, int], Geometry]
    ) -> ir.Table:
        """Measures per account and date from the partials joined to the dates they count at.

        A partial of period p counts at the date of period d through lag d - p: as a whole
        period inside a window's frame, or as the piece a window cuts at that lag. Only
        the partials that exist are joined (no dense grid, no window function): cheaper
        than the grid where an account has rows in few periods.
        """
        lags = [lag for g in shapes.values() for lag, _, _ in g.pieces]
        lags += [lag for g in shapes.values() if g.frame is not None for lag in g.frame]
        dates = ibis.memtable(
            {"d__": [-k for k in self.on_grid], "as_of": [as_timestamp(d) for d in self.dates]}
        )
        joined = partials.join(
            dates,
            [partials.p__ >= dates.d__ - max(lags), partials.p__ <= dates.d__ - min(lags)],
        )
        lag = joined.d__ - joined.p__
        backend = getattr(self.backend, "name", "")
        out: dict[str, Any] = {}
        for (name, offset), shape in shapes.items():
            aggregate = self.model.signals[name].aggregate
            prefix = f"z__{name}__{offset}__"
            picked: dict[str, Any] = {}
            for kind in MEASURES[str(aggregate)]:
                cases = [
                    (lag == at, joined[self._piece(name, a, b, kind)]) for at, a, b in shape.pieces
                ]
                if shape.frame is not None:
                    first, last = shape.frame
                    cases.append((lag.between(last, first), joined[self._whole(name, kind)]))
                picked[kind] = ibis.cases(*cases)
            for kind, part in picked.items():
                if kind in "nsc":
                    out[prefix + kind] = part.sum().fill_null(0)
                elif kind == "m" and aggregate == "min":
                    out[prefix + kind] = part.min()
                elif kind in "mt":
                    out[prefix + kind] = part.max()
                else:  # the value of the part holding the latest time
                    time = picked["t"]
                    out[prefix + kind] = latest_value(part, time, time.notnull(), backend)
        return joined.group_by(["account_id", "as_of"]).aggregate(**out)

    def _parts(
        self, lagged: Lagged, name: str, offset: int, shape: Geometry
    ) -> dict[str, list[str | None]]:
        """Per measure, the grid columns (lags or frames) whose union is the window.

        A frame of up to MAX_LAGS periods is that many lags, cheaper than a windowed
        aggregate on every engine tried; a wider one is one framed aggregate (for `latest`,
        None stands for its value, fetched by `_latest_of_frame`).
        """
        aggregate = self.model.signals[name].aggregate
        out: dict[str, list[str | None]] = {}
        for kind in MEASURES[str(aggregate)]:
            columns: list[str | None] = [
                lagged.lag(self._piece(name, a, b, kind), lag) for lag, a, b in shape.pieces
            ]
            if shape.frame is not None:
                first, last = shape.frame
                whole = self._whole(name, kind)
                if first - last < MAX_LAGS:
                    columns += [lagged.lag(whole, lag) for lag in range(last, first + 1)]
                elif kind == "v":
                    columns.append(None)
                else:
                    how = "sum" if kind in "nsc" else "min" if aggregate == "min" else "max"
                    columns.append(lagged.frame(whole, first, last, how))
            out[kind] = columns
        return out

    def _combine(
        self, dated: ir.Table, name: str, offset: int, by_kind: dict[str, list[str | None]]
    ) -> dict[str, Any]:
        """One window's measures at each date from its parts."""
        aggregate = self.model.signals[name].aggregate
        prefix = f"z__{name}__{offset}__"
        out: dict[str, Any] = {}
        for kind, columns in by_kind.items():
            parts = [dated[c] for c in columns if c is not None]
            if kind in "nsc":
                out[prefix + kind] = functools.reduce(operator.add, [x.fill_null(0) for x in parts])
            elif kind == "v":  # the value of the part holding the latest time
                times = [dated[c] for c in by_kind["t"] if c is not None]
                cases = [(t == out[prefix + "t"], v) for t, v in zip(times, parts, strict=False)]
                if None in columns:  # the wide frame's time is the last part
                    out[prefix + "ft"] = times[-1]
                empty = ibis.null(self.partial_types[self._whole(name, "v")].copy(nullable=True))
                out[prefix + kind] = ibis.cases(*cases, else_=empty) if cases else empty
            elif len(parts) == 1:
                out[prefix + kind] = parts[0]
            elif kind == "m" and aggregate == "min":
                out[prefix + kind] = ibis.least(*parts)
            else:
                out[prefix + kind] = ibis.greatest(*parts)
        return out

    def _latest_of_frame(
        self, dated: ir.Table, partials: ir.Table, name: str, offset: int, step_us: int
    ) -> ir.Table:
        """Fill `latest` from the whole period holding the latest time, when a frame has it."""
        prefix = f"z__{name}__{offset}__"
        since = dated[prefix + "ft"].delta(ibis.literal(self.last, "timestamp"), unit="microsecond")
        dated = dated.mutate(fp__=(since.cast("float64") / step_us).floor().cast("int64"))
        value = partials[self._whole(name, "v")]
        found = partials.select(account_id__=partials.account_id, p__=partials.p__, fv__=value)
        joined = dated.left_join(
            found, [dated.account_id == found.account_id__, dated.fp__ == found.p__]
        )
        from_frame = joined[prefix + "ft"].notnull() & (
            joined[prefix + "ft"] == joined[prefix + "t"]
        )
        value = ibis.ifelse(from_frame, joined.fv__, joined[prefix + "v"])
        keep = [c for c in dated.columns if c not in (prefix + "v", "fp__")]
        return joined.select(*keep, **{prefix + "v": value})

    def _joined_measures(
        self, rows: ir.Table, time_name: str, variants: dict[str, set[int]]
    ) -> ir.Table:
        """Measures per account and date of deleted rows, joined to the dates they count at."""
        assert self.spine is not None
        time = rows[time_name]
        reach = max(
            o + (self.model.signals[n].window_days or 0)
            for n, offs in variants.items()
            for o in offs
        )
        spine = self.spine
        joined = rows.join(
            spine,
            [
                time < spine.as_of,
                time >= spine.as_of - ibis.interval(days=reach),
                rows[DELETED_AT] > spine.as_of,
            ],
        )
        time = joined[time_name]
        out: dict[str, Any] = {}
        for name, offsets in variants.items():
            width = self.model.signals[name].window_days or 0
            for offset in offsets:
                parts = [
                    self._condition(joined, name),
                    time >= joined.as_of - ibis.interval(days=offset + width),
                    time < joined.as_of - ibis.interval(days=offset) if offset else None,
                ]
                where = functools.reduce(operator.and_, [c for c in parts if c is not None])
                out |= self._measures(joined, name, where, time, f"d__{name}__{offset}__")
        return joined.group_by(["account_id", "as_of"]).aggregate(**out)

    def _merge(self, live: ir.Table, deleted: ir.Table, variants: dict[str, set[int]]) -> ir.Table:
        """Combine the live rows' measures with the deleted rows' (an outer join)."""
        joined = live.outer_join(deleted, ["account_id", "as_of"])
        keys = {
            "account_id": ibis.coalesce(joined.account_id, joined.account_id_right),
            "as_of": ibis.coalesce(joined.as_of, joined.as_of_right),
        }
        out: dict[str, Any] = {}
        for name, offsets in variants.items():
            aggregate = self.model.signals[name].aggregate
            for offset in offsets:
                z, d = f"z__{name}__{offset}__", f"d__{name}__{offset}__"
                for kind in MEASURES[str(aggregate)]:
                    a, b = joined[z + kind], joined[d + kind]
                    if kind in "nsc":
                        out[z + kind] = a.fill_null(0) + b.fill_null(0)
                    elif kind == "m" and aggregate == "min":
                        out[z + kind] = ibis.least(a, b)
                    elif kind in "mt":
                        out[z + kind] = ibis.greatest(a, b)
                    else:  # latest: the deleted rows' value when their time is later
                        later = joined[d + "t"].notnull() & (
                            joined[z + "t"].isnull() | (joined[d + "t"] > joined[z + "t"])
                        )
                        out[z + kind] = ibis.ifelse(later, b, a)
        return joined.select(**keys, **out)

    def _finish_measures(self, measured: ir.Table, variants: dict[str, set[int]]) -> dict[str, Any]:
        """The `SignalQuery` reductions (`_variant_column`) from the merged measures."""
        out: dict[str, Any] = {}
        for name, offsets in variants.items():
            aggregate = self.model.signals[name].aggregate
            for offset in offsets:
                z = f"z__{name}__{offset}__"
                if aggregate == "mean":
                    count = measured[z + "c"]
                    value = ibis.ifelse(count == 0, ibis.null(), measured[z + "s"] / count)
                else:
                    value = measured[z + MEASURES[str(aggregate)][-1]]
                out[_variant_column(name, offset)] = value
        return out


def _outer(left: ir.Table, right: ir.Table, keys: list[str]) -> ir.Table:
    """Full outer join on `keys`, the keys coalesced."""
    joined = left.outer_join(right, keys)
    merged = {k: ibis.coalesce(joined[k], joined[f"{k}_right"]) for k in keys}
    rest = [c for c in joined.columns if c not in keys and not c.endswith("_right")]
    return joined.select(**merged, **{c: joined[c] for c in rest})


def one_pass_signal_table(backend: Any, model: HealthModel, dates: Sequence[dt.date]) -> ir.Table:
    """Return `signal_table`'s table for many dates, each table read in one pass.

    >>> one_pass_signal_table(con, model, weekly_dates).execute()  # doctest: +SKIP
    """
    return OnePassQuery(backend, model, dates).build()
