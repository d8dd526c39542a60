"""Choose each signal's scale inside the training rows: the model's own, or a learned one.

`calibrate --learn-scales` may replace a signal's scale by learned thresholds, a learned
piecewise-linear curve or a learned categorical map (`learned_scales.py`). A learned scale is
kept only where it predicts churn better than the model's scale **out of fold within the
training rows**: the training accounts are split into INNER_FOLDS groups, each candidate is
learned on the other groups and gives points to the held-out one, and the candidates are
compared by the log-loss of a logistic regression of churn on every signal's out-of-fold
points together (points must lower churn: a fit the wrong way round counts as no signal).
Starting from the model's own scales, each signal in turn takes the learned scale that lowers
that joint log-loss most, when it does by more than MARGIN_ROWS / rows (0: any gain);
otherwise, and on ties, the model's scale stays. Nothing here
sees the test rows or the outer fold's held-out accounts: calibrate calls it on its training
rows, and again inside each fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

Floats = npt.NDArray[np.float64]
Learner = Callable[[npt.NDArray[np.bool_]], Callable[[npt.NDArray[np.bool_]], Floats] | None]
INNER_FOLDS = 5
# A learned scale must lower the joint mean log-loss by MARGIN_ROWS / rows to replace the
# model's own. 0: any out-of-fold gain, the model's scale kept on ties. Every configuration
# compared has one column per signal (the same number of parameters), and a learned scale's
# own flexibility is already paid for by scoring out of fold, so no Akaike price is due.
MARGIN_ROWS = 0.0
HAND = "model"  # the candidate that keeps the model's scale


@dataclass(frozen=True)
class Choice:
    """The scale chosen for one signal and every candidate's out-of-fold log-loss."""

    winner: str
    losses: dict[str, float]

    def describe(self) -> str:
        """The comparison for people: "piecewise 0.4102, model 0.4180, thresholds 0.4150"."""
        return ", ".join(f"{k} {v:.4f}" for k, v in sorted(self.losses.items(), key=_order))


def _order(item: tuple[str, float]) -> tuple[float, str]:
    return item[1], item[0]


def inner_folds(accounts: npt.NDArray[np.object_], seed: int = 0) -> npt.NDArray[np.int64]:
    """A fold number per row, every row of an account in the same fold."""
    keys, inverse = np.unique(accounts.astype(str), return_inverse=True)
    count = min(INNER_FOLDS, keys.size)
    order = np.random.default_rng(seed).permutation(keys.size) % max(count, 1)
    return np.asarray(order[inverse], dtype=np.int64)


def one_signal_loss(points: Floats, churned: Floats) -> float:
    """Mean log-loss of churn ~ a + b × points/100 with b ≤ 0 (more points, less churn)."""
    x = points / 100.0
    rate = float(np.clip(churned.mean(), 1e-9, 1 - 1e-9))
    start = np.array([np.log(rate / (1 - rate)), 0.0])

    def loss(theta: Floats) -> tuple[float, Floats]:
        z = theta[0] + theta[1] * x
        p = 1.0 / (1.0 + np.exp(-z))
        value = np.logaddexp(0.0, z) - churned * z
        grad = p - churned
        return float(value.mean()), np.array([grad.mean(), (grad * x).mean()])

    bounds = [(None, None), (None, 0.0)]
    found = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return float(found.fun)


def out_of_fold(
    hand: Floats, learners: dict[str, Learner], fold: npt.NDArray[np.int64]
) -> dict[str, Floats]:
    """Each candidate's points per row, learned on the other inner folds (the model's own
    points where a fold learned nothing; NaN where the row has no value)."""
    out = {HAND: hand, **{name: hand.copy() for name in learners}}
    for k in np.unique(fold):
        train, test = fold != k, fold == k
        for name, learn in learners.items():
            points = learn(train)
            if points is not None:
                out[name][test] = points(test)
    return out


def joint_loss(columns: list[Floats], churned: Floats) -> float:
    """Mean log-loss of churn ~ a + Σ bⱼ × pointsⱼ/100 with every bⱼ ≤ 0, a missing value
    imputed by its column's mean: how well the signals' points predict churn together."""
    x = np.column_stack([np.where(np.isnan(c), np.nanmean(c), c) / 100.0 for c in columns])
    x = np.nan_to_num(x, nan=0.5)
    rate = float(np.clip(churned.mean(), 1e-9, 1 - 1e-9))
    start = np.concatenate([[np.log(rate / (1 - rate))], np.zeros(x.shape[1])])

    def loss(theta: Floats) -> tuple[float, Floats]:
        z = theta[0] + x @ theta[1:]
        grad = 1.0 / (1.0 + np.exp(-z)) - churned
        value = float((np.logaddexp(0.0, z) - churned * z).mean())
        return value, np.concatenate([[grad.mean()], x.T @ grad / grad.size])

    bounds = [(None, None)] + [(None, 0.0)] * x.shape[1]
    return float(minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).fun)


def choose_jointly(candidates: dict[str, dict[str, Floats]], churned: Floats) -> dict[str, Choice]:
    """Each signal's scale: starting from the model's own everywhere, a signal takes a learned
    candidate when the signals together then predict churn better out of fold (by
    MARGIN_ROWS / rows), the signals whose learned scales gained most alone tried first."""
    with threadpool_limits(1):  # small fits: threads only contend (as in weights.py)
        return _choose(candidates, churned)


def _choose(candidates: dict[str, dict[str, Floats]], churned: Floats) -> dict[str, Choice]:
    alone = {
        name: {kind: one_signal_loss(*_present(points, churned)) for kind, points in c.items()}
        for name, c in candidates.items()
    }
    chosen = dict.fromkeys(candidates, HAND)

    def current(name: str, kind: str) -> float:
        return joint_loss(
            [candidates[n][kind if n == name else chosen[n]] for n in candidates], churned
        )

    best = current("", HAND)
    margin = MARGIN_ROWS / max(churned.size, 1)
    gain = {n: alone[n][HAND] - min(v for k, v in alone[n].items() if k != HAND) for n in alone}
    for name in sorted(candidates, key=lambda n: -gain[n]):
        tried = {kind: current(name, kind) for kind in candidates[name] if kind != HAND}
        kind = min(tried, key=lambda k: tried[k])
        if tried[kind] < best - margin:
            chosen[name], best = kind, tried[kind]
    return {name: Choice(chosen[name], alone[name]) for name in candidates}


def _present(points: Floats, churned: Floats) -> tuple[Floats, Floats]:
    ok = ~np.isnan(points)
    return points[ok], churned[ok]
