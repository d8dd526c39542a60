"""Turn raw signal values into 0..100 points by each signal's scale, vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    Scale,
    Signal,
    ThresholdsScale,
)


def to_points(raw: pd.Series, scale: Scale, groups: pd.Series | None = None) -> pd.Series:
    """Return points (float, NaN where the value is missing) for the raw values.

    `groups` partitions the accounts for the percentile scale (accounts of the same
    segment and date are ranked together).

    >>> to_points(pd.Series([0, 5, 20]), LinearScale(type="linear", low=0, high=10)).tolist()
    [0.0, 50.0, 100.0]
    """
    if isinstance(scale, CategoricalScale):
        keys = raw.map(_category, na_action="ignore") if pd.api.types.is_numeric_dtype(raw) else raw
        mapped = pd.to_numeric(keys.astype(object).map(scale.map), errors="coerce")
        if scale.default is not None:
            mapped = mapped.where(mapped.notna() | raw.isna(), scale.default)
        return mapped.astype("float64")
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    if isinstance(scale, LinearScale):
        share = ((values - scale.low) / (scale.high - scale.low)).clip(0.0, 1.0)
        if scale.better == "lower":
            share = 1.0 - share
        return share * 100.0
    if isinstance(scale, ThresholdsScale):
        mins = np.array([s.min for s in scale.steps])
        points = np.array([scale.below, *[s.points for s in scale.steps]], dtype="float64")
        index = np.searchsorted(mins, values.to_numpy(), side="right")
        result = pd.Series(points[index], index=values.index)
        return result.where(values.notna())
    if isinstance(scale, BooleanScale):
        return pd.Series(
            np.where(values.to_numpy() != 0, scale.if_true, scale.if_false), index=values.index
        ).where(values.notna())
    if isinstance(scale, PercentileScale):
        keys = groups if groups is not None else pd.Series(0, index=values.index)
        ascending = scale.better == "higher"
        ranked = values.groupby(keys).rank(method="average", pct=True, ascending=ascending)
        counts = values.groupby(keys).transform("count")
        # a lone account is the median of its segment, not its best
        return (ranked * 100.0).where(counts > 1, 50.0).where(values.notna())
    raise TypeError(f"unknown scale {scale!r}")  # pragma: no cover - pydantic guards


def _category(value: object) -> str:
    """Return the map key of a value: 1.0 and 1 are both "1"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def apply_missing(points: pd.Series, signal: Signal) -> pd.Series:
    """Apply the signal's missing-value policy: skip (NaN stays), zero, or fixed points."""
    if signal.missing == "skip":
        return points
    fill = 0.0 if signal.missing == "zero" else float(signal.missing)
    return points.fillna(fill)
