"""A signal's points from its scale as an Ibis expression, the same on every engine.

engine/points.py computes points with pandas/NumPy on the driver; these expressions compute
the same inside the engine (engine/score_expressions.py builds the whole score on them):
linear, piecewise, thresholds, boolean and categorical scales per row, percentile scales as
ranks over the accounts scored together. The helpers keep PostgreSQL, DuckDB and Spark equal
(double literals, NULL-keeping clamps, booleans as numbers).
"""

from __future__ import annotations

import itertools
from typing import Any

import ibis
import ibis.expr.types as ir

from vitalsign.engine.points import LONE_ACCOUNT_POINTS, TIE_RTOL
from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    PiecewiseScale,
    Scale,
    ThresholdsScale,
)


def double_literal(value: float) -> Any:
    """A double literal on every engine: PostgreSQL reads a bare 2.0 as NUMERIC, and a
    CASE of NUMERIC literals comes back as Python decimals (Ibis elides a float64 cast of
    a float64 literal, not of a float32 one; the text keeps every digit of the double)."""
    return ibis.literal(float(value), "float32").cast("float64")


def fenced(t: ir.Table, fence: bool) -> ir.Table:
    """Add a window column (row_number) so that the stage stays a subquery: PostgreSQL's
    planner otherwise pulls each stage up into the next, copying its expressions into every
    reference (30 s of planning for the starter model). Not on DuckDB or Spark."""
    return t.mutate(fence__=ibis.row_number().over(ibis.window())) if fence else t


def as_double(value: Any) -> Any:
    """A column as double; booleans through integers (PostgreSQL casts no boolean to double)."""
    if value.type().is_boolean():
        return value.cast("int32").cast("float64")
    return value.cast("float64")


def clip(value: Any, low: float, high: float) -> Any:
    """Clamp without GREATEST/LEAST (PostgreSQL's ignore NULL): NULL stays NULL."""
    return ibis.ifelse(
        value < low, double_literal(low), ibis.ifelse(value > high, double_literal(high), value)
    )


def category_key(value: str, dtype: Any) -> Any:
    """Return the literal a column of `dtype` equals when its map key is `value`, or None.

    Numbers match by their text, as engine/points.py does: 1.0 is "1".
    """
    if dtype.is_boolean():
        return {"True": True, "False": False}.get(value)
    if dtype.is_numeric():
        try:
            number = float(value)
        except ValueError:
            return None
        text = str(int(number)) if number.is_integer() else str(number)
        return number if text == value else None
    return value


def scale_points(table: ir.Table, column: str, scale: Scale) -> Any:
    """Return a signal's points (NULL where missing) for one row of `table`."""
    raw = table[column]
    if isinstance(scale, CategoricalScale):
        dtype = raw.type()
        pairs = [(key, category_key(k, dtype), v) for key, (k, v) in enumerate(scale.map.items())]
        cases = [(raw == lit, double_literal(v)) for _, lit, v in pairs if lit is not None]
        other = double_literal(scale.default) if scale.default is not None else None
        otherwise = other if other is not None else ibis.null("float64")
        mapped = ibis.cases(*cases, else_=otherwise) if cases else otherwise
        return ibis.ifelse(raw.isnull(), ibis.null("float64"), mapped)
    value = as_double(raw)
    if isinstance(scale, LinearScale):
        share = clip((value - scale.low) / (scale.high - scale.low), 0.0, 1.0)
        if scale.better == "lower":
            share = 1.0 - share
        return share * 100.0
    if isinstance(scale, PiecewiseScale):
        return piecewise_points(value, scale)
    if isinstance(scale, ThresholdsScale):
        points = [float(scale.below), *[float(s.points) for s in scale.steps]]
        reached = sum(
            (ibis.ifelse(value >= s.min, 1, 0) for s in scale.steps), start=ibis.literal(0)
        )
        chosen = ibis.cases(*[(reached == i, double_literal(p)) for i, p in enumerate(points)])
        return ibis.ifelse(value.isnull(), ibis.null("float64"), chosen)
    if isinstance(scale, BooleanScale):
        points_if = ibis.ifelse(
            value != 0, double_literal(scale.if_true), double_literal(scale.if_false)
        )
        return ibis.ifelse(value.isnull(), ibis.null("float64"), points_if)
    if isinstance(scale, PercentileScale):  # pragma: no cover - ranked in ranked_points
        raise TypeError("percentile points are ranked over the table")
    raise TypeError(f"unknown scale {scale!r}")  # pragma: no cover - pydantic guards


def piecewise_points(value: Any, scale: PiecewiseScale) -> Any:
    """Points linear between consecutive knots, the end knots' points outside (NULL: NULL)."""
    knots = scale.knots
    cases = [(value <= knots[0].value, double_literal(knots[0].points))]
    for left, right in itertools.pairwise(knots):
        slope = (right.points - left.points) / (right.value - left.value)
        cases.append(
            (value <= right.value, double_literal(left.points) + (value - left.value) * slope)
        )
    chosen = ibis.cases(*cases, else_=double_literal(knots[-1].points))
    return ibis.ifelse(value.isnull(), ibis.null("float64"), chosen)


def ranked_points(
    table: ir.Table, ranked: dict[str, bool], keys: list[str], snap_by: list[str]
) -> ir.Table:
    """Add each ranked column's percentile points as `<column>__p` (`ranked`: column ->
    higher is better): the average rank among the rows of the same `keys`.

    As engine/points.py: values are first snapped to the smallest of their run of near-equal
    values (each within TIE_RTOL, relative, of the next) among the rows of the same
    `snap_by` (the scorecard: the driver snaps a scorecard's rows together), then ranked;
    a lone value and a value without a segment get 50 points, a missing value gets NULL.
    Missing values are ranked apart (Spark sorts NULL first, DuckDB last). All columns
    share each projection, which keeps the query (and Ibis's compile) small.
    """
    t = table.mutate(
        **{
            f"{c}__{part}": value
            for c in ranked
            for part, value in (("x", as_double(table[c])), ("null", table[c].isnull()))
        }
    )

    def within(c: str, by: list[str], *extra: str) -> list[Any]:
        return [t[k] for k in [*by, f"{c}__null", *extra]]

    stage: dict[str, Any] = {}
    for c in ranked:  # a run starts where a value is not near the one before it
        ordered = ibis.window(group_by=within(c, snap_by), order_by=t[f"{c}__x"])
        x, previous = t[f"{c}__x"], t[f"{c}__x"].lag().over(ordered)
        scale = ibis.ifelse(x.abs() > previous.abs(), x.abs(), previous.abs())
        near = ((x - previous) <= scale * TIE_RTOL).fill_null(False)
        stage[f"{c}__new"] = ibis.ifelse(near, 0, 1)
        stage[f"{c}__row"] = ibis.row_number().over(ordered)
    t = t.mutate(**stage)
    stage = {}
    for c in ranked:
        order = [t[f"{c}__x"], t[f"{c}__row"]]
        running = ibis.window(group_by=within(c, snap_by), order_by=order, rows=(None, 0))
        stage[f"{c}__run"] = t[f"{c}__new"].sum().over(running)
    t = t.mutate(**stage)
    stage = {}
    for c in ranked:
        run = ibis.window(group_by=within(c, snap_by, f"{c}__run"))
        stage[f"{c}__snap"] = t[f"{c}__x"].min().over(run)
    t = t.mutate(**stage)
    stage = {}
    for c in ranked:
        ordered = ibis.window(group_by=within(c, keys), order_by=t[f"{c}__snap"])
        ties = ibis.window(group_by=within(c, keys, f"{c}__snap"))
        stage[f"{c}__below"] = ibis.rank().over(ordered)  # values below: 0-based rank
        stage[f"{c}__size"] = t[f"{c}__row"].count().over(ties)
        stage[f"{c}__n"] = t[f"{c}__row"].count().over(ibis.window(group_by=within(c, keys)))
    t = t.mutate(**stage)
    ungrouped: Any = ibis.literal(False)
    for key in keys:
        ungrouped = ungrouped | t[key].isnull()
    stage = {}
    for c, higher in ranked.items():
        below = t[f"{c}__below"].cast("float64")
        size, n = t[f"{c}__size"].cast("float64"), t[f"{c}__n"].cast("float64")
        first = below + 1.0 if higher else n - below - size + 1.0  # first rank of the ties
        average = first - 1.0 + (size + 1.0) / 2.0
        points = ibis.ifelse(n > 1, average / n * 100.0, double_literal(LONE_ACCOUNT_POINTS))
        points = ibis.ifelse(ungrouped, double_literal(LONE_ACCOUNT_POINTS), points)
        stage[f"{c}__p"] = ibis.ifelse(t[f"{c}__x"].isnull(), ibis.null("float64"), points)
    parts = ("x", "null", "new", "row", "run", "snap", "below", "size", "n")
    return t.mutate(**stage).drop(*[f"{c}__{part}" for c in ranked for part in parts])
