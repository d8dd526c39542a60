"""PSI: hand-computed values, its reading, the bins, and that it is ≥ 0 and 0 when equal."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.band_drift import band_drift
from vitalsign.analytics.drift import EMPTY_SHARE, level, psi, signal_drift


def test_psi_of_two_bins_matches_the_hand_computed_value() -> None:
    # (0.25 − 0.5)·ln(0.25/0.5) + (0.75 − 0.5)·ln(0.75/0.5) = 0.25·ln 2 + 0.25·ln 1.5
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))


def test_psi_takes_counts_as_well_as_shares() -> None:
    # shares 0.2/0.3/0.5 against 0.3/0.3/0.4
    expected = (0.3 - 0.2) * math.log(0.3 / 0.2) + (0.4 - 0.5) * math.log(0.4 / 0.5)
    assert psi([20, 30, 50], [3, 3, 4]) == pytest.approx(expected)


def test_an_empty_bin_counts_as_a_tiny_share_so_psi_stays_finite() -> None:
    value = psi([1, 0], [0.5, 0.5])
    expected = (0.5 - 1) * math.log(0.5 / 1) + (0.5 - EMPTY_SHARE) * math.log(0.5 / EMPTY_SHARE)
    assert value == pytest.approx(expected)


def test_psi_is_read_with_the_usual_thresholds() -> None:
    assert level(0.05) == "stable"
    assert level(0.1) == "moderate"
    assert level(0.2499) == "moderate"
    assert level(0.25) == "significant"
    assert level(math.nan) == "n/a"


shares = st.lists(st.floats(0.0, 1000.0, allow_nan=False), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(shares.flatmap(lambda e: st.tuples(st.just(e), st.permutations(e))))
def test_psi_is_never_negative_and_zero_for_the_same_distribution(
    pair: tuple[list[float], list[float]],
) -> None:
    expected, other = pair
    if sum(expected) <= 0:
        return
    assert psi(expected, expected) == pytest.approx(0.0, abs=1e-12)
    assert psi(expected, [2.5 * x for x in expected]) == pytest.approx(0.0, abs=1e-9)
    assert psi(expected, other) >= 0.0


def test_a_shifted_signal_drifts_and_a_resampled_one_does_not() -> None:
    rng = np.random.default_rng(1)
    last = pd.Series(rng.normal(10, 2, 2000))
    same = pd.Series(rng.normal(10, 2, 2000))
    shifted = pd.Series(rng.normal(12, 2, 2000))
    assert signal_drift("x", last, same).level == "stable"
    moved = signal_drift("x", last, shifted)
    assert moved.level == "significant"
    assert len(moved.bins) == 11  # ten deciles of last quarter, and missing
    assert moved.this_median > moved.last_median + 1.5


def test_missing_values_and_categories_have_bins_of_their_own() -> None:
    last = pd.Series(["green"] * 50 + ["red"] * 50)
    this = pd.Series(["green"] * 50 + [None] * 50)
    drift = signal_drift("csm", last, this)
    assert drift.bins == ["green", "red", "missing"]
    assert drift.last_shares == [0.5, 0.5, 0.0]
    assert drift.this_shares == [0.5, 0.0, 0.5]
    assert drift.level == "significant"


def test_a_count_with_few_values_gets_one_bin_per_value() -> None:
    drift = signal_drift("tickets", pd.Series([0, 0, 1, 2] * 10), pd.Series([0, 1, 1, 2] * 10))
    assert drift.bins == ["0", "1", "2", "missing"]
    assert drift.psi == pytest.approx(psi([20, 10, 10, 0], [10, 20, 10, 0]))


def test_band_drift_flags_a_band_whose_churn_rate_moved_and_not_one_that_held() -> None:
    rows = []
    for quarter, red_rate in (("last", 0.5), ("this", 0.1)):
        for i in range(200):
            band = "red" if i < 100 else "green"
            rate = red_rate if band == "red" else 0.05
            churned = (i % 100) < rate * 100
            rows.append((f"{quarter}-{i}", band, churned, quarter))
    frame = pd.DataFrame(rows, columns=["account_id", "band", "churned", "quarter"])
    red, green = band_drift(frame, ["red", "green"], replicates=200)
    assert red.last_rate.value == pytest.approx(0.5)
    assert red.this_rate.value == pytest.approx(0.1)
    assert red.change.high < 0 and red.drifting
    assert green.change.contains(0.0) and not green.drifting
