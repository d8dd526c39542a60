"""Does a scale's range fit the observed values? Used by the model profile (`check`).

A scale misses the data when it cannot tell the accounts apart: a `linear` bound clamps
nearly every value, a `thresholds`, `boolean` or `percentile` scale gives every account the
same points, or a `categorical` map names none of (or not all) the values that occur.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    PiecewiseScale,
    Scale,
    ThresholdsScale,
)

PERCENTILES = (5, 25, 50, 75, 95)
MISSES_SHARE = 0.95  # a linear bound clamping this share of the values misses the data
MIN_VALUES = 3  # fewer values than this say nothing about a scale's range
SHOWN_CATEGORIES = 5


def percentiles(values: np.ndarray) -> dict[int, float]:
    """The observed p5, p25, p50, p75 and p95 of the non-missing values (empty if none)."""
    values = values[~np.isnan(values)]
    if not len(values):
        return {}
    found = np.percentile(values, PERCENTILES)
    return {p: round(float(v), 4) for p, v in zip(PERCENTILES, found, strict=True)}


def shown(found: dict[int, float]) -> str:
    """Percentiles as text, e.g. "p5 0, p25 2.5, p50 5"."""
    return ", ".join(f"p{p} {v:g}" for p, v in found.items())


def numeric(column: pd.Series) -> np.ndarray | None:
    """The column as floats (NaN where missing), or None when it is not numeric."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype("float64").to_numpy()
    if not pd.api.types.is_numeric_dtype(column):
        return None
    return pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()


def scale_misses(scale: Scale, column: pd.Series) -> str | None:
    """Why `scale` misses the observed values of `column`, or None when it fits.

    >>> scale_misses(LinearScale(type="linear", low=100, high=400), pd.Series([1, 5, 9]))
    '... 100% of the values are at or below low (100) and get 0 points; ...'
    """
    present = column.dropna()
    if len(present) < MIN_VALUES:
        return None
    if isinstance(scale, CategoricalScale):
        return _unmapped(scale, [str(v) for v in present])
    values = numeric(present)
    if values is None:
        return None
    observed = f"observed {shown(percentiles(values))} over {len(values)} accounts"
    if isinstance(scale, LinearScale):
        return _clamped(scale, values, observed)
    if isinstance(scale, PercentileScale):
        if len(np.unique(values)) == 1:
            return (
                f"every account has the same value ({values[0]:g}), so every account ranks "
                f"in the middle: the percentile tells no account from another; {observed}"
            )
        return None
    points = _step_points(scale, values)
    distinct = np.unique(points)
    if len(distinct) == 1:
        return (
            f"every account with a value gets {distinct[0]:g} points: the scale's range "
            f"misses the data; {observed}"
        )
    return None


def _clamped(scale: LinearScale, values: np.ndarray, observed: str) -> str | None:
    below = float(np.mean(values <= scale.low))
    above = float(np.mean(values >= scale.high))
    at_low, at_high = (100, 0) if scale.better == "lower" else (0, 100)
    for share, bound, side, points in (
        (below, scale.low, "at or below low", at_low),
        (above, scale.high, "at or above high", at_high),
    ):
        if share >= MISSES_SHARE:
            return (
                f"the range {scale.low:g}..{scale.high:g} misses the data: {share:.0%} of "
                f"the values are {side} ({bound:g}) and get {points} points; {observed}. "
                "Set low and high near p5 and p95"
            )
    return None


def _unmapped(scale: CategoricalScale, values: Sequence[str]) -> str | None:
    """Categories that occur but are not in the map (and get no points without `default`)."""
    counts = pd.Series(values).value_counts()
    missing = counts[[v not in scale.map for v in counts.index]]
    if missing.empty:
        return None
    listed = ", ".join(f"{v!r} ({n})" for v, n in missing.head(SHOWN_CATEGORIES).items())
    more = len(missing) - SHOWN_CATEGORIES
    worth = (
        f"they get the default {scale.default:g} points"
        if scale.default is not None
        else "they get no points (missing)"
    )
    return (
        f"{int(missing.sum())} of {len(values)} values are not in the map: {listed}"
        + (f" and {more} more" if more > 0 else "")
        + f"; {worth}. Map them (categories are compared as text)"
    )


def _step_points(
    scale: ThresholdsScale | PiecewiseScale | BooleanScale, values: np.ndarray
) -> np.ndarray:
    if isinstance(scale, BooleanScale):
        return np.where(values != 0, scale.if_true, scale.if_false)
    if isinstance(scale, PiecewiseScale):
        knots = scale.knots
        xs, ys = [k.value for k in knots], [k.points for k in knots]
        return np.asarray(np.interp(values, xs, ys), dtype="float64")
    steps = np.array([s.min for s in scale.steps])
    levels = np.array([scale.below, *[s.points for s in scale.steps]])
    return levels[np.searchsorted(steps, values, side="right")]
