"""Weight fitting: non-negative, finds the signals that matter, imputes as the score does."""

from __future__ import annotations

import numpy as np

from vitalsign.analytics.segments import nominal_weights
from vitalsign.analytics.weights import (
    cross_validated_scores,
    fit_weights,
    impute,
    scorecard_tree,
    tree_score,
)
from vitalsign.model.spec import Group


def _groups() -> dict[str, Group]:
    return {
        "usage": Group(weight=2, signals={"a": 1, "b": 1}),
        "voice": Group(groups={"survey": Group(signals={"c": 1}), "csm": Group(signals={"d": 3})}),
    }


def test_nominal_weights_follow_the_groups() -> None:
    shares = nominal_weights(_groups())
    assert shares == {"a": 100 / 3, "b": 100 / 3, "c": 100 / 3 / 2, "d": 100 / 3 / 2}


def test_a_missing_signal_is_imputed_with_its_groups_score_so_the_score_is_unchanged() -> None:
    tree = scorecard_tree(_groups(), ["a", "b", "c", "d"])
    beta = np.array([1.0, 3.0, 2.0, 2.0])
    points = np.array([[40.0, np.nan, 90.0, 10.0], [np.nan, np.nan, 30.0, np.nan]])
    filled = impute(tree, points, beta)
    assert filled[0, 1] == 40.0  # its group's score: only a is there
    assert filled[1, 0] == filled[1, 1] == filled[1, 3] == 30.0  # nearest group with data
    assert np.allclose(tree_score(tree, filled, beta), tree_score(tree, points, beta))


def test_fitted_weights_are_non_negative_and_find_the_signals_that_matter() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    points = rng.uniform(0, 100, size=(n, 4))
    risk = 2.0 - 0.05 * points[:, 0] - 0.02 * points[:, 1] + 0.03 * points[:, 3]  # d: wrong way
    churned = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(float)
    points[rng.random((n, 4)) < 0.1] = np.nan
    groups = {"all": Group(signals={"a": 1, "b": 1, "c": 1, "d": 1})}
    tree = scorecard_tree(groups, ["a", "b", "c", "d"])
    accounts = np.arange(n).astype(str).astype(object)
    fit = fit_weights(points, churned, tree, accounts)
    assert (fit.beta >= 0).all()
    assert fit.beta[0] > fit.beta[1] > max(fit.beta[2], fit.beta[3])
    assert fit.beta[3] < 0.05 * fit.beta[0]  # the wrong-way signal gets (almost) nothing
    scores = cross_validated_scores(points, churned, tree, accounts, folds=3)
    assert not np.isnan(scores).any()
