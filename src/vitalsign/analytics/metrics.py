"""Ranking metrics (ROC-AUC, PR-AUC) with account-clustered bootstrap confidence intervals.

Snapshots of the same account on nearby dates are not independent, so the bootstrap resamples
accounts, not rows: each replicate draws accounts with replacement and weights every row of an
account by how often the account was drawn. All replicates are computed at once from one sort.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
CHUNK = 64  # replicates computed together (memory: CHUNK × rows floats)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a 95% bootstrap interval (NaN when it cannot be computed)."""

    value: float
    low: float
    high: float

    def contains(self, x: float) -> bool:
        """True when `x` lies inside the interval."""
        return self.low <= x <= self.high

    def to_dict(self) -> dict[str, float | None]:
        """Return a JSON-ready dict (NaN becomes None)."""
        return {
            k: _finite(v)
            for k, v in (("value", self.value), ("low", self.low), ("high", self.high))
        }

    def __str__(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 6)


def _groups(
    values: Floats, descending: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return the sort order of `values` and the start of each run of tied values in it."""
    order = np.argsort(-values if descending else values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts


def _auc_rows(risk: Floats, labels: npt.NDArray[np.bool_], weights: Floats) -> Floats:
    """ROC-AUC of `risk` for `labels` under each row of `weights` (replicates × rows)."""
    order, starts = _groups(risk, descending=False)
    w = weights[:, order]
    y = labels[order]
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: Floats = (pos * (below + 0.5 * neg)).sum(axis=1) / (total_pos * total_neg)
    return auc


def _ap_rows(risk: Floats, labels: npt.NDArray[np.bool_], weights: Floats) -> Floats:
    """Average precision (PR-AUC) of `risk` for `labels` under each row of `weights`."""
    order, starts = _groups(risk, descending=True)
    w = weights[:, order]
    y = labels[order]
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    total_pos = pos.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        ap: Floats = (pos * precision).sum(axis=1) / total_pos
    return ap


def roc_auc(
    risk: Sequence[float] | Floats, labels: Sequence[bool] | npt.NDArray[np.bool_]
) -> float:
    """ROC-AUC of `risk` (higher means more likely positive); NaN without both classes.

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    r, y = np.asarray(risk, dtype="float64"), np.asarray(labels, dtype=bool)
    return float(_auc_rows(r, y, np.ones((1, r.size)))[0])


def average_precision(
    risk: Sequence[float] | Floats, labels: Sequence[bool] | npt.NDArray[np.bool_]
) -> float:
    """Average precision (PR-AUC) of `risk`; NaN without positives."""
    r, y = np.asarray(risk, dtype="float64"), np.asarray(labels, dtype=bool)
    return float(_ap_rows(r, y, np.ones((1, r.size)))[0])


@dataclass(frozen=True)
class Bootstrap:
    """Account-clustered resampling weights, reproducible from a seed."""

    clusters: npt.NDArray[np.int64]  # cluster code per row
    count: int  # clusters drawn per replicate (all accounts, also outside a subset)
    replicates: int
    seed: int

    @classmethod
    def by_account(
        cls, accounts: Sequence[str] | npt.NDArray[np.object_], replicates: int = 200, seed: int = 0
    ) -> Bootstrap:
        """Resample the accounts of these rows."""
        _, codes = np.unique(np.asarray(accounts, dtype=object).astype(str), return_inverse=True)
        return cls(
            codes.astype(np.int64), int(codes.max()) + 1 if codes.size else 0, replicates, seed
        )

    def subset(self, mask: npt.NDArray[np.bool_]) -> Bootstrap:
        """The same resampling restricted to some rows (same draws per account)."""
        return Bootstrap(self.clusters[mask], self.count, self.replicates, self.seed)

    def weights(self) -> list[Floats]:
        """Return the weights per replicate, in chunks (replicates × rows)."""
        count = max(self.count, 1)
        rng = np.random.default_rng(self.seed)
        draws = rng.integers(0, count, size=(self.replicates, count))
        chunks = []
        for start in range(0, self.replicates, CHUNK):
            part = draws[start : start + CHUNK]
            offset = (np.arange(part.shape[0]) * count)[:, None]
            tally = np.bincount((part + offset).ravel(), minlength=part.shape[0] * count)
            chunks.append(tally.reshape(part.shape[0], count)[:, self.clusters].astype("float64"))
        return chunks


def _interval(point: float, replicates: Floats) -> Estimate:
    finite = replicates[np.isfinite(replicates)]
    if math.isnan(point) or finite.size < 10:
        return Estimate(point, math.nan, math.nan)
    low, high = np.percentile(finite, [2.5, 97.5])
    return Estimate(point, float(low), float(high))


def _estimate(
    metric: str, risk: Floats, labels: npt.NDArray[np.bool_], boot: Bootstrap
) -> tuple[float, Floats]:
    rows = _auc_rows if metric == "auc" else _ap_rows
    point = float(rows(risk, labels, np.ones((1, risk.size)))[0])
    if risk.size == 0 or boot.replicates == 0:
        return point, np.array([])
    reps = np.concatenate([rows(risk, labels, w) for w in boot.weights()])
    return point, reps


def auc_estimate(risk: Floats, labels: npt.NDArray[np.bool_], boot: Bootstrap) -> Estimate:
    """ROC-AUC with its 95% account-bootstrap interval."""
    return _interval(*_estimate("auc", risk, labels, boot))


def ap_estimate(risk: Floats, labels: npt.NDArray[np.bool_], boot: Bootstrap) -> Estimate:
    """PR-AUC (average precision) with its 95% account-bootstrap interval."""
    return _interval(*_estimate("ap", risk, labels, boot))


def paired_auc_difference(
    risk_a: Floats, risk_b: Floats, labels: npt.NDArray[np.bool_], boot: Bootstrap
) -> Estimate:
    """AUC(b) − AUC(a) on the same rows, with a paired bootstrap interval."""
    point_a, reps_a = _estimate("auc", risk_a, labels, boot)
    point_b, reps_b = _estimate("auc", risk_b, labels, boot)
    if reps_a.size == 0:
        return Estimate(point_b - point_a, math.nan, math.nan)
    return _interval(point_b - point_a, reps_b - reps_a)
