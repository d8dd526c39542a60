"""Fit non-negative signal weights by L2-regularised logistic regression on signal points.

The model fitted is the health score itself: churn odds fall with Σ βⱼ·pointsⱼ, βⱼ ≥ 0. A
missing signal is imputed the way the score renormalises it, with the score of its nearest
group that has data, so the fitted weights mean the same in the weighted score as in the
regression. The L2 strength is picked by account-grouped cross-validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize  # type: ignore[import-untyped]
from scipy.special import expit  # type: ignore[import-untyped]
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from vitalsign.analytics.metrics import roc_auc
from vitalsign.model.spec import Group

Floats = npt.NDArray[np.float64]
PENALTIES = (0.1, 1.0, 10.0, 100.0)
EPSILON = 1e-6  # keeps a zero-weight signal's group defined when imputing
IMPUTE_ROUNDS = 3


@dataclass
class Node:
    """A group of the scorecard: signal columns and nested groups."""

    signals: list[int] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


def scorecard_tree(groups: dict[str, Group], columns: list[str]) -> Node:
    """The scorecard's groups as a tree over the column positions of its signals."""
    index = {name: i for i, name in enumerate(columns)}

    def node(group: Group) -> Node:
        return Node(
            [index[s] for s in group.signals if s in index],
            [node(child) for child in group.groups.values()],
        )

    return Node([], [node(g) for g in groups.values()])


def _weight(node: Node, beta: Floats) -> float:
    return float(sum(beta[j] + EPSILON for j in node.signals)) + sum(
        _weight(c, beta) for c in node.children
    )


def tree_score(node: Node, x: Floats, beta: Floats) -> Floats:
    """Weighted mean of the available members, groups weighted by the sum of their weights."""
    n = x.shape[0]
    num, den = np.zeros(n), np.zeros(n)
    for j in node.signals:
        ok = ~np.isnan(x[:, j])
        num += (beta[j] + EPSILON) * np.nan_to_num(x[:, j])
        den += (beta[j] + EPSILON) * ok
    for child in node.children:
        score, weight = tree_score(child, x, beta), _weight(child, beta)
        num += weight * np.nan_to_num(score)
        den += weight * ~np.isnan(score)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: Floats = np.where(den > 0, num / den, np.nan)
    return result


def impute(node: Node, x: Floats, beta: Floats, inherited: Floats | None = None) -> Floats:
    """Fill each missing signal with the score of its nearest group that has data."""
    out = x.copy() if inherited is None else x
    here = tree_score(node, x, beta)
    if inherited is not None:
        here = np.where(np.isnan(here), inherited, here)
    for j in node.signals:
        out[:, j] = np.where(np.isnan(x[:, j]), here, x[:, j])
    for child in node.children:
        impute(child, out, beta, here)
    return out


def _fit(x: Floats, y: Floats, penalty: float) -> Floats:
    """Minimise the L2-regularised log-loss of churn ~ b0 − x·β with β ≥ 0; return β."""
    k = x.shape[1]

    def loss(params: Floats) -> tuple[float, Floats]:
        b0, beta = params[0], params[1:]
        z = b0 - x @ beta
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * penalty * beta @ beta)
        residual = expit(z) - y
        gradient = np.concatenate([[residual.sum()], -(x.T @ residual) + penalty * beta])
        return value, gradient

    rate = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
    start = np.concatenate([[np.log(rate / (1 - rate)) + 0.5 * k], np.full(k, 1.0)])
    bounds = [(None, None)] + [(0.0, None)] * k
    # many tiny problems: BLAS threads only add contention
    with threadpool_limits(limits=1):
        result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    beta: Floats = np.clip(result.x[1:], 0.0, None)
    return beta


def _choose_penalty(x: Floats, y: Floats, groups: npt.NDArray[np.object_]) -> float:
    """The L2 strength with the best account-grouped cross-validated AUC."""
    folds = min(3, len(np.unique(groups)))
    if folds < 2:
        return PENALTIES[1]
    splitter = GroupKFold(n_splits=folds)
    best, chosen = -np.inf, PENALTIES[1]
    for penalty in PENALTIES:
        risk = np.full(y.size, np.nan)
        for train, test in splitter.split(x, y, groups):
            if y[train].min() == y[train].max():
                continue
            beta = _fit(x[train], y[train], penalty)
            risk[test] = -(x[test] @ beta)
        ok = ~np.isnan(risk)
        auc = roc_auc(risk[ok], y[ok].astype(bool)) if ok.any() else np.nan
        if np.isfinite(auc) and auc > best + 1e-4:
            best, chosen = auc, penalty
    return chosen


@dataclass(frozen=True)
class WeightFit:
    """Fitted weights (β ≥ 0 per column) and the L2 strength chosen."""

    beta: Floats
    penalty: float


def fit_weights(
    points: Floats,
    churned: Floats,
    tree: Node,
    accounts: npt.NDArray[np.object_],
    penalty: float | None = None,
) -> WeightFit:
    """Fit β ≥ 0 on points scaled to 0–1 (NaN where missing), imputing by the scorecard tree."""
    x = points / 100.0
    y = churned.astype("float64")
    beta = np.ones(x.shape[1])
    chosen = penalty
    for _ in range(IMPUTE_ROUNDS):
        filled = impute(tree, x, beta)
        filled = np.nan_to_num(filled, nan=0.5)
        if chosen is None:
            chosen = _choose_penalty(filled, y, accounts)
        beta = _fit(filled, y, chosen)
    return WeightFit(beta, float(chosen if chosen is not None else PENALTIES[1]))


def weighted_score(points: Floats, tree: Node, beta: Floats) -> Floats:
    """The score (0–100) a scorecard with weights β gives these points, before gate and flags."""
    return tree_score(tree, points, beta)


def cross_validated_scores(
    points: Floats, churned: Floats, tree: Node, accounts: npt.NDArray[np.object_], folds: int = 5
) -> Floats:
    """Out-of-fold weighted scores: each account scored by weights fitted without it."""
    scores = np.full(points.shape[0], np.nan)
    splitter = GroupKFold(n_splits=min(folds, len(np.unique(accounts))))
    for train, test in splitter.split(points, churned, accounts):
        fit = fit_weights(points[train], churned[train], tree, accounts[train])
        scores[test] = weighted_score(points[test], tree, fit.beta)
    return scores
