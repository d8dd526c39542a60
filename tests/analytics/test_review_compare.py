"""A review against the previous one: a fall of ROC-AUC is listed only beyond the noise."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vitalsign.analytics.review_compare import AUC_FALL, auc_change_interval, auc_fell, compare


def _auc(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "low": low, "high": high}


def _previous(roc: dict[str, Any]) -> dict[str, Any]:
    return {"as_of": "2025-09-01", "backtest": {"roc_auc": roc}, "signal_drift": []}


def test_the_trials_fall_of_0_088_with_wide_overlapping_intervals_is_within_the_noise() -> None:
    compared = compare(_previous(_auc(0.811068, 0.687, 0.920)), _auc(0.723, 0.594, 0.866), [], {})
    auc = compared["roc_auc"]
    assert auc["change"] == -0.088068
    assert auc["change_low"] < 0 < auc["change_high"]
    assert auc["fell"] is False


def test_a_fall_with_narrow_intervals_is_beyond_the_noise() -> None:
    compared = compare(_previous(_auc(0.85, 0.84, 0.86)), _auc(0.80, 0.79, 0.81), [], {})
    auc = compared["roc_auc"]
    assert auc["change_high"] < 0 and auc["fell"] is True


def test_a_small_fall_is_never_listed_and_without_intervals_the_size_decides() -> None:
    assert auc_fell(0.80, 0.79, (-0.011, -0.009)) is False  # tight, but under AUC_FALL
    assert auc_fell(0.80, 0.75, None) is True
    assert auc_fell(0.80, 0.79, None) is False
    assert auc_change_interval(_auc(0.8, 0.7, 0.9), {"value": 0.7, "low": None}) is None


intervals = st.tuples(st.floats(0.5, 1.0), st.floats(0.0, 0.2), st.floats(0.0, 0.2)).map(
    lambda t: _auc(t[0], t[0] - t[1], t[0] + t[2])
)


@given(intervals, intervals)
def test_the_change_interval_holds_the_change_and_a_listed_fall_excludes_zero(
    before: dict[str, float], now: dict[str, float]
) -> None:
    interval = auc_change_interval(before, now)
    assert interval is not None
    change = now["value"] - before["value"]
    assert interval[0] - 1e-6 <= change <= interval[1] + 1e-6
    fell = auc_fell(before["value"], now["value"], interval)
    assert fell == (change < -AUC_FALL and interval[1] < 0)
    wider = _auc(now["value"], now["low"] - 0.05, now["high"] + 0.05)
    widened = auc_change_interval(before, wider)
    assert widened is not None and widened[0] <= interval[0] and widened[1] >= interval[1]
