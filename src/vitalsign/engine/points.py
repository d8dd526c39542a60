"""Turn raw signal values into 0..100 points by each signal's scale, vectorised.

The work is done on NumPy arrays (`scale_points`); `to_points` is the Series front end.
Percentile ranks equal pandas' `groupby(...).rank(method="average", pct=True)`, with a
lone account in its group at 50 points: counts (small integers) are ranked by counting,
other values by one sort per group, and categories are mapped once per distinct value.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    PiecewiseScale,
    Scale,
    Signal,
    ThresholdsScale,
)

LONE_ACCOUNT_POINTS = 50.0  # a lone account is the median of its segment, not its best
MAX_GROUPS_SORTED_ONE_BY_ONE = 64  # beyond this, one lexsort over (group, value) is cheaper
MAX_STEPS_COMPARED = 8  # thresholds with more steps use a binary search


def to_points(raw: pd.Series, scale: Scale, groups: pd.Series | None = None) -> pd.Series:
    """Return points (float, NaN where the value is missing) for the raw values.

    `groups` partitions the accounts for the percentile scale (accounts of the same
    segment and date are ranked together).

    >>> to_points(pd.Series([0, 5, 20]), LinearScale(type="linear", low=0, high=10)).tolist()
    [0.0, 50.0, 100.0]
    """
    codes = None
    if groups is not None and isinstance(scale, PercentileScale):
        codes = pd.factorize(groups)[0]  # a missing key (-1) is no group: pandas drops it
    return pd.Series(scale_points(raw, scale, codes), index=raw.index, name=raw.name)


def scale_points(raw: pd.Series, scale: Scale, groups: np.ndarray | None = None) -> np.ndarray:
    """Return points as a float array; `groups` are integer group codes (-1: no group)."""
    if isinstance(scale, CategoricalScale):
        return _categorical_points(raw, scale)
    values = numeric_values(raw)
    if isinstance(scale, LinearScale):
        share: np.ndarray = np.subtract(values, scale.low)  # then in place: one array
        share /= scale.high - scale.low
        np.clip(share, 0.0, 1.0, out=share)
        if scale.better == "lower":
            np.subtract(1.0, share, out=share)
        share *= 100.0
        return share
    if isinstance(scale, PiecewiseScale):
        xs = np.array([k.value for k in scale.knots], dtype="float64")
        ys = np.array([k.points for k in scale.knots], dtype="float64")
        return np.asarray(
            np.interp(values, xs, ys), dtype="float64"
        )  # clamped outside the end knots; NaN stays NaN
    if isinstance(scale, ThresholdsScale):
        points = np.array([scale.below, *[s.points for s in scale.steps]], dtype="float64")
        result: np.ndarray = points[_steps_reached(values, [s.min for s in scale.steps])]
        result[np.isnan(values)] = np.nan
        return result
    if isinstance(scale, BooleanScale):
        result = np.where(values != 0, scale.if_true, scale.if_false).astype("float64", copy=False)
        result[np.isnan(values)] = np.nan
        return result
    if isinstance(scale, PercentileScale):
        codes = np.zeros(len(values), np.int64) if groups is None else groups
        return percentile_points(values, codes, ascending=scale.better == "higher")
    raise TypeError(f"unknown scale {scale!r}")  # pragma: no cover - pydantic guards


def _steps_reached(values: np.ndarray, mins: list[float]) -> np.ndarray:
    """Return how many of the ascending `mins` each value reaches (searchsorted, right)."""
    if len(mins) > MAX_STEPS_COMPARED:
        return np.searchsorted(np.array(mins), values, side="right")
    reached = np.zeros(len(values), np.intp)
    for low in mins:  # a few comparisons beat a binary search per value
        reached += values >= low
    return reached


def numeric_values(raw: pd.Series) -> np.ndarray:
    """Return the raw values as floats, NaN where missing or not a number."""
    if isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "biuf":
        return raw.to_numpy(dtype="float64")  # plain NumPy numbers: no pandas round trip
    return np.asarray(pd.to_numeric(raw, errors="coerce").astype("float64", copy=False))


def _category(value: object) -> str:
    """Return the map key of a value: 1.0 and 1 are both "1"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _categorical_points(raw: pd.Series, scale: CategoricalScale) -> np.ndarray:
    """Map each distinct value once, then spread the points over the rows."""
    codes, distinct = pd.factorize(raw)
    return category_points(codes, distinct, pd.api.types.is_numeric_dtype(raw), scale)


def category_points(
    codes: np.ndarray, distinct: ArrayLike, numeric: bool, scale: CategoricalScale
) -> np.ndarray:
    """Return the points of factorized values: codes into the distinct values (-1: missing).

    `numeric` says whether the values were numbers, whose keys are their text (1.0 is "1").
    """
    values = pd.Series(distinct)
    keys = values.map(_category, na_action="ignore") if numeric else values
    mapped = pd.to_numeric(keys.astype(object).map(scale.map), errors="coerce")
    if scale.default is not None:
        mapped = mapped.fillna(scale.default)
    # code -1 (a missing value) picks the NaN appended at the end
    points: np.ndarray = np.append(mapped.to_numpy(dtype="float64"), np.nan)[codes]
    return points


def percentile_points(values: np.ndarray, groups: np.ndarray, ascending: bool) -> np.ndarray:
    """Return 100 × the average percentile rank of each value within its group.

    NaN values get NaN and are not counted; a group with one value gives it 50 points; a
    value whose group code is -1 (a missing group key) is in no group and gets 50 points.
    """
    values = snap_near_ties(values)
    valid = ~np.isnan(values)
    if valid.all() and (len(values) == 0 or groups.min() >= 0):
        return _ranked_points(values if ascending else -values, groups)
    result = np.full(len(values), np.nan)
    result[valid & (groups < 0)] = LONE_ACCOUNT_POINTS
    ranked = np.flatnonzero(valid & (groups >= 0))
    if len(ranked):
        keys = values[ranked] if ascending else -values[ranked]
        result[ranked] = _ranked_points(keys, groups[ranked])
    return result


TIE_RTOL = 1e-12
"""Values this close (relative) rank as ties: engines sum floats in different orders."""


def snap_near_ties(values: np.ndarray) -> np.ndarray:
    """Return `values` with each run of near-equal values (within TIE_RTOL of the next) set
    to the run's smallest, so that a percentile rank is the same on every engine.

    DuckDB, Spark and PostgreSQL add the same numbers in different orders, so a mean or a
    sum can differ in its last bit; ranked as they are, two such accounts swap places and
    their points differ by a rank. Whole numbers (counts) are exact and left as they are.
    """
    finite = values[np.isfinite(values)]
    if len(finite) < 2 or np.array_equal(finite, np.round(finite)):
        return values
    order = np.argsort(values, kind="stable")  # NaN sorts last and stays NaN
    ordered = values[order]
    scale = np.maximum(np.abs(ordered[1:]), np.abs(ordered[:-1]))
    with np.errstate(invalid="ignore"):  # inf - inf: never near
        near = (np.diff(ordered) <= TIE_RTOL * scale) & np.isfinite(scale)
    starts = np.concatenate([[True], ~near])
    first = np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))
    snapped = np.empty_like(values)
    snapped[order] = ordered[first]
    return snapped


def _ranked_points(keys: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Return the points of keys (no NaN) ranked ascending within groups (codes >= 0)."""
    if len(keys) == 0:
        return np.empty(0)
    counted = _counted_points(keys, codes)
    if counted is not None:
        return counted
    sizes = np.bincount(codes)
    present = np.flatnonzero(sizes)
    result = np.empty(len(keys))
    if len(present) > MAX_GROUPS_SORTED_ONE_BY_ONE:
        order = np.lexsort((keys, codes))
        result[order] = _sorted_points(codes[order], keys[order])
        return result
    changes = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    if len(changes) == len(present) - 1:  # each group's rows are together: sort in place
        for start, end in itertools.pairwise([0, *changes.tolist(), len(keys)]):
            order = np.argsort(keys[start:end])
            result[start:end][order] = _run_points(keys[start:end][order])
        return result
    by_group = np.argsort(codes.astype(_small_int(len(sizes))), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes[present])])
    for start, end in itertools.pairwise(bounds.tolist()):
        members = by_group[start:end]
        group_keys = keys[members]
        order = np.argsort(group_keys)
        result[members[order]] = _run_points(group_keys[order])
    return result


def _counted_points(keys: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
    """Rank small whole numbers (counts) by counting them; None when they are not such."""
    low, high = keys.min(), keys.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    n_groups = int(codes.max()) + 1
    width = high - low + 1
    if width * n_groups > len(keys) + 4096 or not (keys == np.floor(keys)).all():
        return None
    width = int(width)
    cell = codes * width + (keys - low).astype(np.int64)
    count = np.bincount(cell, minlength=n_groups * width).reshape(n_groups, width)
    below_or_equal = count.cumsum(axis=1)
    # the ranks of a tie run below+1 .. below+count average to below + (count + 1) / 2
    average = (below_or_equal - count) + (count + 1) / 2
    size = below_or_equal[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        points = average / size * 100.0
    points = np.where(size > 1, points, LONE_ACCOUNT_POINTS)
    counted: np.ndarray = points.ravel()[cell]
    return counted


def _small_int(n: int) -> type[np.integer]:
    """Return the narrowest integer type for codes below n (radix sort for 16 bits)."""
    return np.int16 if n < 2**15 else np.int64


def _run_points(keys: np.ndarray) -> np.ndarray:
    """Return the points of one group's values, sorted ascending."""
    n = len(keys)
    if n == 1:
        return np.full(1, LONE_ACCOUNT_POINTS)
    new_run = np.empty(n, bool)
    new_run[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new_run[1:])
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], n)
    # ranks run_start+1 .. run_end average to (run_start + 1 + run_end) / 2
    points = (run_start + 1 + run_end) / 2 / n * 100.0
    return np.repeat(points, run_end - run_start)


def _sorted_points(codes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Return the points of values already sorted by group, then value."""
    n = len(keys)
    new_group = np.empty(n, bool)
    new_group[0] = True
    np.not_equal(codes[1:], codes[:-1], out=new_group[1:])
    new_run = new_group.copy()
    new_run[1:] |= keys[1:] != keys[:-1]
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], n)
    group_start = np.flatnonzero(new_group)
    group_size = np.diff(np.append(group_start, n))
    run_group = np.cumsum(new_group)[run_start] - 1
    first = run_start - group_start[run_group]  # 0-based position in the group
    last = run_end - group_start[run_group]  # 1-based position of the run's last value
    size = group_size[run_group]
    points = np.where(size > 1, (first + 1 + last) / 2 / size * 100.0, LONE_ACCOUNT_POINTS)
    return np.repeat(points, run_end - run_start)


def apply_missing(points: pd.Series, signal: Signal) -> pd.Series:
    """Apply the signal's missing-value policy: skip (NaN stays), zero, or fixed points."""
    filled = fill_missing(points.to_numpy(dtype="float64"), signal)
    return pd.Series(filled, index=points.index, name=points.name)


def fill_missing(points: np.ndarray, signal: Signal) -> np.ndarray:
    """Apply the missing-value policy to a points array (a new array unless skip)."""
    if signal.missing == "skip":
        return points
    fill = 0.0 if signal.missing == "zero" else float(signal.missing)
    return np.where(np.isnan(points), fill, points)
