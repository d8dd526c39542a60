"""Compile a model's signals into one Ibis query per scoring run, executed in the backend.

Every table is scanned once per run: all signals on it (and their shifted windows, for
change, trend and baseline) become conditional reductions of one grouped aggregate.
Scoring many dates (a backfill) joins the table to a spine of dates instead of re-reading
it once per date; for evenly spaced dates, count_distinct uses bit masks instead
(distinct_counts). Point-in-time: a window ending at T only reads rows with time < T.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from vitalsign.engine.derived import derive, derived_in_order, window_offsets
from vitalsign.engine.distinct_counts import bitwise_or, distinct_counts, regular_step
from vitalsign.engine.expressions import (
    columns_of,
    compile_expression,
    latest_value,
    nan_as_null,
)
from vitalsign.model.canonical import CANONICAL_TABLES, DELETED_AT
from vitalsign.model.checks import ACCOUNT_COLUMNS
from vitalsign.model.spec import ZERO_WHEN_EMPTY, HealthModel, Signal

HISTORY_TABLE = "account_history"
SIGNAL_PREFIX = "s__"
FLAG_PREFIX = "flag__"
ACCOUNT_FIELDS = ("name", "owner", "segment", "arr")
MICROSECONDS_PER_DAY = 86_400_000_000.0


def signal_column(name: str) -> str:
    """Return the result column that holds signal `name`."""
    return f"{SIGNAL_PREFIX}{name}"


def _variant_column(name: str, offset: int) -> str:
    return f"v__{name}__{offset}"


def as_timestamp(day: dt.date) -> dt.datetime:
    """Return midnight at the start of `day`: scoring as of a day reads rows before it."""
    return dt.datetime(day.year, day.month, day.day)


def _days_between(later: Any, earlier: Any) -> Any:
    """Fractional days from `earlier` to `later`, from whole microseconds on every engine.

    Not epoch seconds: Spark's are whole seconds, and its `/ 86400.0` divides decimals.
    """
    microseconds = later.delta(earlier, unit="microsecond").cast("float64")
    return microseconds / ibis.literal(MICROSECONDS_PER_DAY, "float64")


class SignalQuery:
    """Builds the per-account (and per-date) signal table for a model."""

    def __init__(self, backend: Any, model: HealthModel, dates: Sequence[dt.date]) -> None:
        if not dates:
            raise ValueError("at least one date is needed")
        self.backend = backend
        self.model = model
        self.dates = sorted(set(dates))
        self.single = len(self.dates) == 1
        self.keys = ["account_id"] if self.single else ["account_id", "as_of"]
        self.spine = (
            None if self.single else ibis.memtable({"as_of": [as_timestamp(d) for d in self.dates]})
        )
        self.bit_or = bitwise_or(backend)  # None: no bit masks, count_distinct by the spine

    def build(self) -> ir.Table:
        """Return the Ibis table: account fields, scorecard, signals, gate and flags."""
        table = self._accounts()
        offsets = window_offsets(self.model)
        by_table: dict[str, dict[str, set[int]]] = {}
        for name, signal in self.model.signals.items():
            if signal.table is not None:
                by_table.setdefault(signal.table, {})[name] = offsets[name]
        for table_name, variants in by_table.items():
            windowed = {n: o for n, o in variants.items() if self.model.signals[n].window}
            step = self._mask_step()
            append_only = CANONICAL_TABLES[table_name].append_only  # no deleted rows to mask
            for name in [n for n in windowed if step and append_only and self._counts_distinct(n)]:
                assert step is not None
                table = self._join(table, self._distinct_counts(table_name, name, step))
                del windowed[name]
            if windowed:
                table = self._join(table, self._windowed_aggregate(table_name, windowed))
            for name in variants:
                if self.model.signals[name].aggregate == "time_to_first":
                    table = self._join(table, self._first_occurrence(table_name, name))
        # one final projection: nested mutates cost Ibis more to compile than DuckDB to run
        columns = self._finish_table_signals(table, offsets)
        self._derived(table, columns)
        return self._conditions(table, columns)

    # -- accounts ---------------------------------------------------------------------------
    def _accounts(self) -> ir.Table:
        """Every account's attributes as in force at each date (account_history when kept)."""
        accounts = self._table("accounts")
        try:
            history = self._table(HISTORY_TABLE)
        except ibis.common.exceptions.TableNotFound:  # a backend without vitalsign's history
            history = None
        historised = history is not None
        if history is not None:  # accounts not yet recorded in history count as first versions
            names = [*accounts.columns, "valid_from", "valid_to"]
            moment = history.schema()["valid_from"]
            unseen = accounts.anti_join(history, "account_id").mutate(
                valid_from=ibis.null(moment), valid_to=ibis.null(moment)
            )
            accounts = history.select(*names).union(unseen.select(*names))
        if self.spine is None:
            base = accounts.mutate(as_of=ibis.literal(as_timestamp(self.dates[0]), "timestamp"))
        else:
            base = accounts.cross_join(self.spine)
        conditions = [
            base.created_at < base.as_of,
            base.churned_at.isnull() | (base.churned_at >= base.as_of),
        ]
        if historised:  # the version in force: valid_from <= T < valid_to (NULL: open)
            conditions += [
                base.valid_from.isnull() | (base.valid_from <= base.as_of),
                base.valid_to.isnull() | (base.valid_to > base.as_of),
            ]
        if DELETED_AT in base.columns:
            conditions.append(base[DELETED_AT].isnull() | (base[DELETED_AT] > base.as_of))
        base = base.filter(*conditions)
        # renewal_date holds the next renewal as of today; as of an earlier T the next renewal
        # is that date rolled back by whole (annual) terms to the first one on or after T
        ahead = _days_between(base.renewal_date.cast("timestamp"), base.as_of)
        return base.mutate(
            days_to_renewal=ibis.ifelse(ahead >= 365, ahead - 365 * (ahead / 365).floor(), ahead),
            tenure_days=_days_between(base.as_of, base.created_at),
        )

    def _table(self, name: str) -> ir.Table:
        """A table of the backend, NaN read as NULL (whatever the loading route)."""
        return nan_as_null(self.backend.table(name))

    def _live(self, rows: ir.Table, as_of: Any) -> ir.Table:
        """Rows not deleted (by a snapshot source) before `as_of`."""
        if DELETED_AT not in rows.columns:
            return rows
        return rows.filter(rows[DELETED_AT].isnull() | (rows[DELETED_AT] > as_of))

    def _join(self, left: ir.Table, right: ir.Table) -> ir.Table:
        return left.left_join(right, self.keys)

    # -- table signals ----------------------------------------------------------------------
    def _source(self, table_name: str, variants: Iterable[str]) -> ir.Table:
        """The table; for many dates with each filter and value computed once per row."""
        time_name = CANONICAL_TABLES[table_name].time_column
        assert time_name is not None
        source = self._table(table_name)
        if self.spine is None:  # filters stay inline, where DuckDB evaluates them cheapest
            return self._live(source, ibis.literal(as_timestamp(self.dates[0]), "timestamp"))
        prepared: dict[str, Any] = {}
        for name in variants:
            signal = self.model.signals[name]
            if signal.filter is not None:
                condition = compile_expression(signal.filter, columns_of(source))
                prepared[f"f__{name}"] = condition.fill_null(False)
            if signal.value is not None:
                prepared[f"x__{name}"] = compile_expression(signal.value, columns_of(source))
        needed = {"account_id", time_name} | {
            s.column for n in variants if (s := self.model.signals[n]).column is not None
        }
        if DELETED_AT in source.columns:
            needed.add(DELETED_AT)
        return source.mutate(**prepared).select(*sorted(needed), *prepared)

    def _mask_step(self) -> int | None:
        """The dates' spacing when count_distinct can use bit masks, else None."""
        return None if self.single or self.bit_or is None else regular_step(self.dates)

    def _counts_distinct(self, name: str) -> bool:
        return self.model.signals[name].aggregate == "count_distinct"

    def _distinct_counts(self, table_name: str, name: str, step: int) -> ir.Table:
        """count_distinct for evenly spaced dates by bit masks (see distinct_counts)."""
        time_name = CANONICAL_TABLES[table_name].time_column
        assert time_name is not None
        signal = self.model.signals[name]
        rows = self._source(table_name, [name])
        if signal.filter is not None:
            rows = rows.filter(rows[f"f__{name}"])
        value = rows[f"x__{name}"] if signal.value is not None else rows[str(signal.column)]
        windows = {
            _variant_column(name, offset): (offset, signal.window_days or 0)
            for offset in window_offsets(self.model)[name]
        }
        moments = [as_timestamp(d) for d in self.dates]
        assert self.bit_or is not None
        return distinct_counts(rows, time_name, value, moments, step, windows, self.bit_or)

    def _windowed_aggregate(self, table_name: str, variants: dict[str, set[int]]) -> ir.Table:
        time_name = CANONICAL_TABLES[table_name].time_column
        assert time_name is not None
        source = self._source(table_name, variants)
        bounds = {
            offset + extra
            for name, offs in variants.items()
            for offset in offs
            for extra in (0, self.model.signals[name].window_days or 0)
        }
        span = max(bounds)
        if self.spine is None:
            end = as_timestamp(self.dates[0])
            rows = source.filter(
                source[time_name] < end, source[time_name] >= end - dt.timedelta(days=span)
            )

            def anchor(days: int) -> Any:
                return ibis.literal(end - dt.timedelta(days=days), "timestamp")

        else:
            # window bounds are computed once per date on the spine, not once per joined row
            spine = self.spine.mutate(
                **{f"b__{d}": self.spine.as_of - ibis.interval(days=d) for d in bounds if d}
            )
            bounds_met = [source[time_name] < spine.as_of, source[time_name] >= spine[f"b__{span}"]]
            if DELETED_AT in source.columns:  # a deleted row counts before its deletion only
                bounds_met.append(source[DELETED_AT].isnull() | (source[DELETED_AT] > spine.as_of))
            rows = source.join(spine, bounds_met)

            def anchor(days: int) -> Any:
                return rows[f"b__{days}"] if days else rows.as_of

        time = rows[time_name]
        reductions: dict[str, Any] = {}
        for name, offs in variants.items():
            signal = self.model.signals[name]
            width = signal.window_days or 0
            for offset in sorted(offs):
                # bounds the join or the pre-filter already guarantee are left out
                # the filter comes first, so DuckDB shares it between windows of one signal
                parts = []
                if signal.filter is not None:
                    parts.append(self._prepared(rows, f"f__{name}", signal.filter))
                if offset + width < span:
                    parts.append(time >= anchor(offset + width))
                if offset > 0:
                    parts.append(time < anchor(offset))
                condition = functools.reduce(operator.and_, parts) if parts else None
                value = None
                if signal.value is not None:
                    value = self._prepared(rows, f"x__{name}", signal.value)
                if value is None and signal.column is not None:
                    value = rows[signal.column]
                reductions[_variant_column(name, offset)] = self._reduce(
                    rows, signal, condition, time, value
                )
        return rows.group_by(self.keys).aggregate(**reductions)

    def _prepared(self, rows: ir.Table, column: str, expression: str) -> Any:
        if column in rows.columns:
            return rows[column]
        return compile_expression(expression, columns_of(rows))

    def _reduce(self, rows: ir.Table, signal: Signal, where: Any, time: Any, value: Any) -> Any:
        aggregate = signal.aggregate
        if aggregate == "count":
            return rows.count(where=where)
        if aggregate == "days_since_last":
            return time.max(where=where)  # turned into days in _finish_table_signals
        if aggregate == "count_distinct":
            return value.nunique(where=where)
        if aggregate == "sum":
            return value.sum(where=where)
        if aggregate == "mean":
            return value.mean(where=where)
        if aggregate == "min":
            return value.min(where=where)
        if aggregate == "max":
            return value.max(where=where)
        if aggregate == "percentile":
            return value.quantile(signal.q, where=where)
        if aggregate == "latest":
            return latest_value(value, time, where, getattr(self.backend, "name", ""))
        raise ValueError(f"aggregate {aggregate} is not windowed")

    def _first_occurrence(self, table_name: str, name: str) -> ir.Table:
        signal = self.model.signals[name]
        time_name = CANONICAL_TABLES[table_name].time_column
        assert time_name is not None
        rows = self._table(table_name)
        if signal.filter is not None:
            rows = rows.filter(compile_expression(signal.filter, columns_of(rows)))
        column = f"first__{name}"
        live = rows.filter(rows[DELETED_AT].isnull()) if DELETED_AT in rows.columns else rows
        first = self._dated(live.group_by("account_id").aggregate(t=live[time_name].min()))
        if DELETED_AT in rows.columns:  # a deleted row counts as first before its deletion
            gone = rows.filter(rows[DELETED_AT].notnull())
            if self.spine is not None:
                gone = gone.join(self.spine, [gone[DELETED_AT] > self.spine.as_of])
            else:
                gone = self._dated(gone).filter(lambda t: t[DELETED_AT] > t.as_of)
            by_date = gone.group_by(["account_id", "as_of"]).aggregate(t=gone[time_name].min())
            both = first.select("account_id", "as_of", "t").union(by_date)
            first = both.group_by(["account_id", "as_of"]).aggregate(t=both.t.min())
        return first.select(*self.keys, **{column: first.t})

    def _dated(self, table: ir.Table) -> ir.Table:
        """`table` with the scoring dates: crossed with the spine, or the one date added."""
        if self.spine is not None:
            return table.cross_join(self.spine)
        return table.mutate(as_of=ibis.literal(as_timestamp(self.dates[0]), "timestamp"))

    def _finish_table_signals(
        self, table: ir.Table, offsets: dict[str, set[int]]
    ) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for name, offs in offsets.items():
            signal = self.model.signals[name]
            if signal.aggregate == "time_to_first":
                first = table[f"first__{name}"]
                columns[signal_column(name)] = ibis.ifelse(
                    first < table.as_of, _days_between(first, table.created_at), ibis.null()
                )
                continue
            for offset in offs:
                column = table[_variant_column(name, offset)]
                if signal.aggregate == "days_since_last":
                    anchor = table.as_of - ibis.interval(days=offset) if offset else table.as_of
                    column = _days_between(anchor, column)
                if signal.aggregate in ZERO_WHEN_EMPTY:
                    column = column.fill_null(0)
                target = signal_column(name) if offset == 0 else _variant_column(name, offset)
                columns[target] = column
        return columns

    # -- derived signals --------------------------------------------------------------------
    def _derived(self, table: ir.Table, columns: dict[str, Any]) -> None:
        """Add the derived signals' expressions to `columns`, inputs before their users."""

        def series(ref: str, offset: int) -> Any:
            return columns[signal_column(ref) if offset == 0 else _variant_column(ref, offset)]

        for name in derived_in_order(self.model):
            columns[signal_column(name)] = derive(
                self.model, table, self.model.signals[name], series
            )

    # -- segments, gate and flags -------------------------------------------------------------
    def _conditions(self, table: ir.Table, columns: dict[str, Any]) -> ir.Table:
        def resolve(name: str) -> Any:
            if name in self.model.signals:
                return columns[signal_column(name)]
            if name in ACCOUNT_COLUMNS or name in table.columns:
                return table[name]
            raise KeyError(name)  # pragma: no cover - checked when the model loads

        scorecard: Any = ibis.literal(self.model.default_scorecard)
        if self.model.segments:
            scorecard = ibis.cases(
                *[
                    (
                        compile_expression(seg.when, columns_of(table)).fill_null(False),
                        seg.scorecard,
                    )
                    for seg in self.model.segments
                ],
                else_=self.model.default_scorecard,
            )
        segment_name: Any = ibis.literal("default")
        if self.model.segments:
            segment_name = ibis.cases(
                *[
                    (compile_expression(seg.when, columns_of(table)).fill_null(False), seg.name)
                    for seg in self.model.segments
                ],
                else_="default",
            )
        extra: dict[str, Any] = {"scorecard": scorecard, "model_segment": segment_name}
        gate = self.model.gate
        extra["gate_pass"] = (
            compile_expression(gate.when, resolve).fill_null(False) if gate else ibis.literal(True)
        )
        for name, flag in self.model.flags.items():
            extra[f"{FLAG_PREFIX}{name}"] = compile_expression(flag.when, resolve).fill_null(False)
        signals = {signal_column(n): columns[signal_column(n)] for n in self.model.signals}
        return table.select("account_id", "as_of", *ACCOUNT_FIELDS, **signals, **extra)


def signal_table(backend: Any, model: HealthModel, dates: Sequence[dt.date]) -> ir.Table:
    """Return the Ibis table of every signal for every active account at each date.

    >>> signal_table(con, model, [dt.date(2025, 1, 1)]).execute()  # doctest: +SKIP
    """
    return SignalQuery(backend, model, dates).build()
