"""Whether a scale's range fits the observed values (the model profile of `check`)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from vitalsign.engine.scale_fit import scale_misses
from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    ThresholdsScale,
    ThresholdStep,
)

LINEAR = LinearScale(type="linear", low=0, high=40)


@given(st.lists(st.floats(min_value=0.01, max_value=39.99), min_size=3, max_size=50))
def test_values_inside_a_linear_range_fit_it(values: list[float]) -> None:
    assert scale_misses(LINEAR, pd.Series(values)) is None


@given(st.lists(st.floats(min_value=40, max_value=1e6), min_size=3, max_size=50))
def test_values_all_above_a_linear_range_miss_it(values: list[float]) -> None:
    message = scale_misses(LINEAR, pd.Series(values))
    assert message is not None and "100% of the values are at or above high (40)" in message
    assert "get 100 points" in message


def test_a_reversed_linear_scale_says_which_points_the_clamped_values_get() -> None:
    lower = LinearScale(type="linear", low=3, high=30, better="lower")
    message = scale_misses(lower, pd.Series([0.5, 1.0, 1.5, 2.0]))
    assert message is not None and "at or below low (3) and get 100 points" in message
    assert "observed p5 0.575, p25 0.875, p50 1.25" in message


def test_a_linear_scale_missing_only_a_few_values_fits() -> None:
    assert scale_misses(LINEAR, pd.Series([*[50.0] * 18, 10.0, 20.0])) is None  # 90 % above


def test_thresholds_that_give_everyone_the_same_points_miss_the_data() -> None:
    steps = ThresholdsScale(type="thresholds", below=100, steps=[ThresholdStep(min=1, points=60)])
    assert scale_misses(steps, pd.Series([0, 0, 0, 0])) is not None
    assert scale_misses(steps, pd.Series([0, 0, 2, 0])) is None


def test_a_boolean_false_for_everyone_misses_the_data() -> None:
    boolean = BooleanScale(type="boolean", if_true=0, if_false=100)
    message = scale_misses(boolean, pd.Series([0.0, 0.0, 0.0]))
    assert message is not None and "every account with a value gets 100 points" in message


def test_a_percentile_of_equal_values_tells_no_account_from_another() -> None:
    scale = PercentileScale(type="percentile")
    assert "same value (0)" in (scale_misses(scale, pd.Series([0, 0, 0, 0])) or "")
    assert scale_misses(scale, pd.Series([0, 0, 1, 0])) is None


def test_categories_not_in_the_map_are_counted_and_named() -> None:
    scale = CategoricalScale(type="categorical", map={"green": 100, "yellow": 50, "red": 0})
    ratings = pd.Series(["Green", "Green", "red", "amber", None, "green"])
    message = scale_misses(scale, ratings)
    assert message is not None
    assert message.startswith("3 of 5 values are not in the map: 'Green' (2), 'amber' (1)")
    assert "they get no points (missing)" in message
    with_default = CategoricalScale(type="categorical", map={"green": 100}, default=50)
    assert "the default 50 points" in (scale_misses(with_default, ratings) or "")
    assert scale_misses(scale, pd.Series(["green", "red", "yellow"])) is None


def test_fewer_than_three_values_say_nothing() -> None:
    assert scale_misses(LINEAR, pd.Series([100.0, 200.0, None])) is None
