"""AUC and PR-AUC match scikit-learn; account-bootstrap intervals are reproducible and honest."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from vitalsign.analytics.metrics import (
    Bootstrap,
    Estimate,
    ap_estimate,
    auc_estimate,
    average_precision,
    paired_auc_difference,
    roc_auc,
)


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rounded scores (many ties), labels that depend on them, 100 accounts × 8 rows."""
    rng = np.random.default_rng(3)
    risk = np.round(rng.normal(size=800), 1)
    labels = rng.random(800) < 1 / (1 + np.exp(-2 * risk))
    accounts = np.repeat([f"a{i}" for i in range(100)], 8)
    return risk, labels, accounts


def test_auc_and_average_precision_equal_scikit_learns_with_ties(
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    risk, labels, _ = scored
    assert roc_auc(risk, labels) == pytest.approx(roc_auc_score(labels, risk), abs=1e-12)
    assert average_precision(risk, labels) == pytest.approx(
        average_precision_score(labels, risk), abs=1e-12
    )


def test_auc_without_both_classes_is_not_a_number() -> None:
    assert np.isnan(roc_auc([0.1, 0.2], [True, True]))


def test_the_same_seed_gives_the_same_interval_and_another_seed_another(
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    risk, labels, accounts = scored
    first = auc_estimate(risk, labels, Bootstrap.by_account(accounts, 100, seed=1))
    again = auc_estimate(risk, labels, Bootstrap.by_account(accounts, 100, seed=1))
    other = auc_estimate(risk, labels, Bootstrap.by_account(accounts, 100, seed=2))
    assert first == again
    assert first != other
    assert first.low < first.value < first.high


def test_resampling_accounts_widens_the_interval_when_rows_repeat_an_account() -> None:
    rng = np.random.default_rng(0)
    risk = np.repeat(rng.normal(size=60), 10)  # ten identical snapshots per account
    labels = np.repeat(rng.random(60) < 0.3, 10)
    by_row = Bootstrap.by_account(np.arange(600).astype(str), 200, 0)
    by_account = Bootstrap.by_account(np.repeat(np.arange(60), 10).astype(str), 200, 0)
    narrow = auc_estimate(risk, labels, by_row)
    wide = auc_estimate(risk, labels, by_account)
    assert (wide.high - wide.low) > 2 * (narrow.high - narrow.low)


def test_pr_auc_of_a_random_score_is_near_the_churn_rate() -> None:
    rng = np.random.default_rng(4)
    labels = rng.random(4000) < 0.2
    estimate = ap_estimate(
        rng.random(4000), labels, Bootstrap.by_account(np.arange(4000).astype(str), 100)
    )
    assert estimate.contains(0.2) or abs(estimate.value - 0.2) < 0.02


def test_the_paired_difference_of_a_score_with_itself_is_zero(
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    risk, labels, accounts = scored
    same = paired_auc_difference(risk, risk, labels, Bootstrap.by_account(accounts, 50))
    assert same == Estimate(0.0, 0.0, 0.0)
    noisy = risk + np.random.default_rng(1).normal(scale=2.0, size=risk.size)
    worse = paired_auc_difference(risk, noisy, labels, Bootstrap.by_account(accounts, 50))
    assert worse.high < 0
