"""Drift between two quarters: the population stability index (PSI) of each signal.

PSI compares a current distribution with a reference one over the same bins:
PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ), with eᵢ the reference share of bin i and aᵢ the current
share. Every term is ≥ 0 (aᵢ − eᵢ and ln(aᵢ / eᵢ) have the same sign), so PSI ≥ 0, and it
is 0 exactly when the shares agree. The usual reading (docs/backtest.md, "Quarterly
review"): below 0.1 stable, 0.1 to 0.25 a moderate shift to watch, 0.25 or more a
significant shift.

Bins: a numeric signal with more than MAX_DISCRETE distinct values is cut at the deciles of
the reference quarter; fewer distinct values (counts, booleans) and text values (categories)
are one bin per value. Missing values have a bin of their own, so a source that stopped
arriving shows as drift. An empty bin counts as EMPTY_SHARE so the logarithm stays finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Floats = npt.NDArray[np.float64]
MODERATE = 0.1
SIGNIFICANT = 0.25
BINS = 10
MAX_DISCRETE = 10
EMPTY_SHARE = 1e-4
MISSING = "missing"


def psi(expected: Sequence[float] | Floats, actual: Sequence[float] | Floats) -> float:
    """Population stability index of `actual` against `expected` (counts or shares per bin).

    >>> round(psi([0.5, 0.5], [0.25, 0.75]), 4)
    0.2747
    """
    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    if e.shape != a.shape or e.size == 0:
        raise ValueError("psi needs two non-empty vectors of the same bins")
    if e.sum() <= 0 or a.sum() <= 0:
        return math.nan
    e = np.maximum(e / e.sum(), EMPTY_SHARE)
    a = np.maximum(a / a.sum(), EMPTY_SHARE)
    return float(np.sum((a - e) * np.log(a / e)))


def level(value: float) -> str:
    """Read a PSI: stable (< 0.1), moderate (0.1 to 0.25) or significant (≥ 0.25)."""
    if math.isnan(value):
        return "n/a"
    if value >= SIGNIFICANT:
        return "significant"
    return "moderate" if value >= MODERATE else "stable"


@dataclass(frozen=True)
class SignalDrift:
    """One signal's distribution this quarter against last quarter's."""

    signal: str
    psi: float
    bins: list[str]  # bin labels, the missing bin last
    last_shares: list[float]
    this_shares: list[float]
    last_rows: int
    this_rows: int
    last_median: float
    this_median: float

    @property
    def level(self) -> str:
        """stable, moderate or significant (see `level`)."""
        return level(self.psi)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "signal": self.signal,
            "psi": _finite(self.psi),
            "level": self.level,
            "last_rows": self.last_rows,
            "this_rows": self.this_rows,
            "last_median": _finite(self.last_median),
            "this_median": _finite(self.this_median),
            "bins": self.bins,
            "last_shares": [_finite(s) for s in self.last_shares],
            "this_shares": [_finite(s) for s in self.this_shares],
        }


def _finite(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 6)


def _label(low: float, high: float) -> str:
    if math.isinf(low):
        return f"< {high:.4g}"
    if math.isinf(high):
        return f"≥ {low:.4g}"
    return f"{low:.4g} to < {high:.4g}"


def _numeric_bins(last: Floats, this: Floats) -> tuple[list[str], Floats, Floats]:
    """Counts per bin: one per value when few, else cut at the reference deciles."""
    values = np.unique(np.concatenate([last, this]))
    if values.size <= MAX_DISCRETE:
        labels = [f"{v:.4g}" for v in values]
        return (
            labels,
            np.array([(last == v).sum() for v in values], dtype="float64"),
            np.array([(this == v).sum() for v in values], dtype="float64"),
        )
    reference = last if last.size else this
    cuts = np.unique(np.quantile(reference, np.linspace(0, 1, BINS + 1)[1:-1]))
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    labels = [_label(lo, hi) for lo, hi in pairwise(edges)]
    last_counts = np.bincount(np.searchsorted(cuts, last, side="right"), minlength=len(labels))
    this_counts = np.bincount(np.searchsorted(cuts, this, side="right"), minlength=len(labels))
    return labels, last_counts.astype("float64"), this_counts.astype("float64")


def _median(values: pd.Series) -> float:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return float(numbers.median()) if len(numbers) else math.nan


def signal_drift(signal: str, last: pd.Series, this: pd.Series) -> SignalDrift:
    """PSI of one signal's values this quarter (`this`) against last quarter's (`last`).

    Numbers are binned as the module says; anything else (text) one bin per category.
    """
    numeric = pd.api.types.is_numeric_dtype(last) and pd.api.types.is_numeric_dtype(this)
    known_last, known_this = last.dropna(), this.dropna()
    if numeric:
        labels, last_counts, this_counts = _numeric_bins(
            known_last.to_numpy(dtype="float64"), known_this.to_numpy(dtype="float64")
        )
    else:
        categories = sorted({str(v) for v in known_last} | {str(v) for v in known_this})
        labels = categories
        last_text, this_text = known_last.astype(str), known_this.astype(str)
        last_counts = np.array([(last_text == c).sum() for c in categories], dtype="float64")
        this_counts = np.array([(this_text == c).sum() for c in categories], dtype="float64")
    last_counts = np.append(last_counts, float(last.isna().sum()))
    this_counts = np.append(this_counts, float(this.isna().sum()))
    labels = [*labels, MISSING]
    value = psi(last_counts, this_counts) if len(last) and len(this) else math.nan

    def shares(counts: Floats) -> list[float]:
        total = counts.sum()
        return [float(c / total) if total else math.nan for c in counts]

    return SignalDrift(
        signal,
        value,
        labels,
        shares(last_counts),
        shares(this_counts),
        len(last),
        len(this),
        _median(last) if numeric else math.nan,
        _median(this) if numeric else math.nan,
    )


def drift_table(last: pd.DataFrame, this: pd.DataFrame) -> list[SignalDrift]:
    """PSI of every column of `this` against the same column of `last` (one row per value)."""
    return [signal_drift(str(c), last[c], this[c]) for c in this.columns if c in last.columns]
