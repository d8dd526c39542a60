"""Each scale and missing-value rule, on hand-picked values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from vitalsign.engine.points import apply_missing, to_points
from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    Signal,
    ThresholdsScale,
    ThresholdStep,
)


def points(values: list[object], scale: object, groups: list[str] | None = None) -> list[float]:
    series = to_points(
        pd.Series(values),
        scale,
        pd.Series(groups) if groups is not None else None,  # type: ignore[arg-type]
    )
    return [None if math.isnan(v) else round(v, 9) for v in series]  # type: ignore[misc]


def test_linear_is_clamped_between_its_bounds() -> None:
    scale = LinearScale(type="linear", low=10, high=20)
    assert points([0, 10, 15, 20, 99, None], scale) == [0.0, 0.0, 50.0, 100.0, 100.0, None]


def test_linear_reversed_when_lower_is_better() -> None:
    scale = LinearScale(type="linear", low=0, high=30, better="lower")
    assert points([0, 3, 30, 60], scale) == [100.0, 90.0, 0.0, 0.0]


def test_thresholds_give_the_points_of_the_highest_step_reached() -> None:
    scale = ThresholdsScale(
        type="thresholds",
        below=5,
        steps=[
            ThresholdStep(min=1, points=20),
            ThresholdStep(min=3, points=60),
            ThresholdStep(min=10, points=100),
        ],
    )
    assert points([0, 1, 2.9, 3, 9.99, 10, 1e9, None], scale) == [5, 20, 20, 60, 60, 100, 100, None]


def test_boolean_maps_non_zero_to_the_true_points() -> None:
    scale = BooleanScale(type="boolean", if_true=0, if_false=100)
    assert points([0, 1, 3, None], scale) == [100.0, 0.0, 0.0, None]


def test_categorical_maps_known_categories_and_defaults_the_rest() -> None:
    scale = CategoricalScale(
        type="categorical", map={"green": 100, "yellow": 50, "red": 0}, default=25
    )
    assert points(["green", "red", "purple", None], scale) == [100.0, 0.0, 25.0, None]
    strict = CategoricalScale(type="categorical", map={"green": 100})
    assert points(["purple"], strict) == [None]


def test_percentile_ranks_within_each_segment() -> None:
    scale = PercentileScale(type="percentile")
    got = points([1, 2, 3, 4, 10, 20], scale, ["a", "a", "a", "a", "b", "b"])
    assert got == [25.0, 50.0, 75.0, 100.0, 50.0, 100.0]
    lower = PercentileScale(type="percentile", better="lower")
    assert points([1, 2, 3, 4], lower) == [100.0, 75.0, 50.0, 25.0]


def test_a_lone_account_in_its_segment_is_the_median() -> None:
    assert points([7], PercentileScale(type="percentile")) == [50.0]


@pytest.mark.parametrize(("missing", "expected"), [("skip", None), ("zero", 0.0), (35, 35.0)])
def test_missing_value_policies(missing: object, expected: float | None) -> None:
    signal = Signal(attribute="seats", missing=missing)  # type: ignore[arg-type]
    result = apply_missing(pd.Series([float("nan"), 70.0]), signal).tolist()
    assert result[1] == 70.0
    assert (math.isnan(result[0]) and expected is None) or result[0] == expected
