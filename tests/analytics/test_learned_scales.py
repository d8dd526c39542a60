"""Learned scales on hand-computed cases: shrinkage, monotone steps, breakpoints, the file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.learned_scales import (
    PRIOR_ROWS,
    LearnedScale,
    learn_categorical,
    learn_thresholds,
    nice_cut,
    rate_points,
    shrunk_rate,
)
from vitalsign.analytics.scale_proposal import ScaleData, with_learned_scales
from vitalsign.engine.points import scale_points
from vitalsign.model.loader import parse_model
from vitalsign.model.spec import ThresholdsScale

MODEL = """\
# a hand-written model
name: tiny
signals:
  plan: {attribute: plan, scale: {type: categorical, map: {pro: 100, basic: 0}}}
  tickets: {table: tickets, aggregate: count, window: 30d, scale: {type: linear, low: 0, high: 9}}
scorecards:
  default:
    all:
      signals: {plan: 1, tickets: 1}
bands:
  - {name: green, min: 70}
  - {name: red, min: 0}
"""


def test_a_small_category_is_shrunk_towards_the_mean_a_large_one_barely() -> None:
    # mean 0.2; 5 rows all churned: (5 + 20 × 0.2) / 25 = 0.36; 500 rows at 0.5: 254 / 520
    assert shrunk_rate(5, 5, 0.2) == pytest.approx(9 / 25)
    assert shrunk_rate(250, 500, 0.2) == pytest.approx(254 / 520)
    assert shrunk_rate(0, 0, 0.2) == pytest.approx(0.2)


def test_points_are_the_log_odds_of_staying_stretched_to_0_100() -> None:
    # rates 0.1, 0.5, 0.9: log-odds of staying 2.197, 0, −2.197 → 100, 50, 0
    assert rate_points([0.1, 0.5, 0.9]) == [100.0, 50.0, 0.0]
    # 0.2: log(4) = 1.386 → 100 × (1.386 + 2.197) / 4.394 = 81.5 → 82
    assert rate_points([0.1, 0.2, 0.9])[1] == 82.0
    assert rate_points([0.3, 0.3]) == [50.0, 50.0]


def test_a_categorical_map_from_shrunk_rates_by_hand() -> None:
    # pro: 100 rows, 10 churned; basic: 100 rows, 40 churned; trial: 10 rows, 10 churned
    keys = pd.Series(["pro"] * 100 + ["basic"] * 100 + ["trial"] * 10)
    y = np.array([1.0] * 10 + [0.0] * 90 + [1.0] * 40 + [0.0] * 60 + [1.0] * 10)
    scale, levels = learn_categorical(keys, y) or pytest.fail("nothing learned")
    mean = 60 / 210
    rates = {
        "pro": (10 + PRIOR_ROWS * mean) / 120,
        "basic": (40 + PRIOR_ROWS * mean) / 120,
        "trial": (10 + PRIOR_ROWS * mean) / 30,
    }
    by_label = {lv.label: lv for lv in levels}
    for key, rate in rates.items():
        assert by_label[key].rate == pytest.approx(rate)
    expected = rate_points([rates["pro"], rates["basic"], rates["trial"], mean])
    assert [scale.map["pro"], scale.map["basic"], scale.map["trial"]] == expected[:3]
    assert scale.map["pro"] == 100 and scale.map["trial"] == 0  # all churned: still the worst
    assert scale.default == expected[3]  # an unseen category gets the mean rate's points
    # shrinkage: trial's raw rate is 100%, its shrunk one is well below
    assert by_label["trial"].rate < 0.65


def test_one_category_is_nothing_to_learn() -> None:
    assert learn_categorical(pd.Series(["a"] * 20), np.array([0.0, 1.0] * 10)) is None


def test_thresholds_follow_a_step_in_the_churn_rate_with_a_round_breakpoint() -> None:
    # values 0..19 (20 rows each): churn 50% below 10, 10% from 10 on
    values = np.repeat(np.arange(20.0), 20)
    y = np.where(values < 10, np.tile([1.0, 0.0], 200), np.tile([1.0] + [0.0] * 9, 40))
    scale, levels, better = learn_thresholds(values, y) or pytest.fail("nothing learned")
    assert better == "higher"
    assert scale.below == 0 and [(s.min, s.points) for s in scale.steps] == [(10, 100)]
    assert [lv.rows for lv in levels] == [200, 200]
    mean = y.mean()
    assert levels[0].rate == pytest.approx((100 + PRIOR_ROWS * mean) / 220)
    assert levels[0].label == "< 10" and levels[1].label == "≥ 10"


def test_thresholds_keep_at_most_max_steps_and_rows_per_band() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 100, 3000)
    y = (rng.uniform(size=3000) < values / 100).astype(float)  # churn rises with the value
    scale, levels, better = learn_thresholds(values, y, max_steps=3) or pytest.fail("none")
    assert better == "lower" and 1 <= len(scale.steps) <= 3
    assert all(lv.rows >= 0.05 * 3000 for lv in levels)
    assert [lv.points for lv in levels] == sorted((lv.points for lv in levels), reverse=True)
    assert all(float(s.min).is_integer() for s in scale.steps)  # rounded to whole values


def test_no_relation_learns_nothing() -> None:
    assert learn_thresholds(np.arange(10.0), np.zeros(10)) is None
    assert learn_thresholds(np.ones(10), np.array([0.0, 1.0] * 5)) is None


@pytest.mark.parametrize(
    ("low", "high", "unit", "cut"),
    [(3, 4, 0, 4), (2.31, 2.78, 0, 2.5), (99, 1234, 0, 1000), (-5.5, -5.2, 0, -5.2),
     (11.37, 11.38, 1.0, 11.0), (0, 0.003, 0, 0.002)],
)  # fmt: skip
def test_breakpoints_are_round_numbers_between_the_bands(
    low: float, high: float, unit: float, cut: float
) -> None:
    assert nice_cut(low, high, unit) == pytest.approx(cut)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=8, max_size=200),
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
)
def test_learned_points_stay_in_0_100_and_monotone_in_the_learned_direction(
    values: list[float], seed: int, max_steps: int
) -> None:
    x = np.asarray(values)
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=x.size) < 1 / (1 + np.exp(-x / (np.std(x) + 1)))).astype(float)
    found = learn_thresholds(x, y, max_steps=max_steps)
    if found is None:
        return
    scale, levels, better = found
    assert len(scale.steps) <= max_steps
    probe = np.sort(np.concatenate([x, rng.uniform(x.min() - 10, x.max() + 10, 50)]))
    points = scale_points(pd.Series(probe), scale)
    assert np.all((points >= 0) & (points <= 100))
    steps = np.diff(points)
    assert np.all(steps >= 0) if better == "higher" else np.all(steps <= 0)
    assert points.max() == 100 and points.min() == 0
    rates = [lv.rate for lv in levels]
    assert rates == sorted(rates, reverse=better == "higher")  # healthier: lower churn


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.booleans()), min_size=2, max_size=80))
def test_learned_category_points_stay_in_0_100_and_follow_the_shrunk_rates(
    rows: list[tuple[str, bool]],
) -> None:
    keys = pd.Series([k for k, _ in rows])
    y = np.array([float(c) for _, c in rows])
    found = learn_categorical(keys, y)
    if found is None:
        assert keys.nunique() < 2
        return
    scale, levels = found
    assert all(0 <= p <= 100 for p in [*scale.map.values(), scale.default or 0])
    ordered = sorted(levels, key=lambda lv: lv.rate)
    assert [lv.points for lv in ordered] == sorted((lv.points for lv in ordered), reverse=True)
    mean = y.mean()
    for lv in levels:  # every shrunk rate lies between the raw rate and the mean
        raw = y[(keys == lv.label).to_numpy()].mean() if lv.rows else mean
        assert min(raw, mean) - 1e-12 <= lv.rate <= max(raw, mean) + 1e-12


def test_the_proposal_carries_each_learned_scale_and_its_comment() -> None:
    thresholds = ThresholdsScale.model_validate(
        {"type": "thresholds", "below": 100, "steps": [{"min": 3, "points": 40},
                                                       {"min": 6, "points": 0}]}
    )  # fmt: skip
    categorical, levels = learn_categorical(
        pd.Series(["pro"] * 60 + ["basic"] * 60), np.array([0.0] * 55 + [1.0] * 65)
    ) or pytest.fail("nothing learned")
    learned = {
        "tickets": LearnedScale("tickets", thresholds, 400, 120, 80, 0.2, [], "lower", "linear"),
        "plan": LearnedScale("plan", categorical, 120, 120, 65, 65 / 120, levels, None,
                             "categorical"),
    }  # fmt: skip
    text = with_learned_scales(MODEL, learned)
    spec = parse_model(text, "<test>").spec
    assert spec.signals["tickets"].scale == thresholds
    assert spec.signals["plan"].scale == categorical
    assert text.startswith("# a hand-written model")
    comments = " ".join(line.strip()[2:] for line in text.splitlines() if "    # " in line)
    assert "Learned by calibrate --learn-scales from 400 rows (120 accounts" in comments
    assert "replacing a linear scale: an isotonic fit, healthier when lower" in comments
    assert f"prior of {PRIOR_ROWS:.0f} rows" in comments
    assert "basic:" in text and "pro: 100" in text
    assert all(len(line) <= 100 for line in text.splitlines())
    assert math.isclose(spec.signals["plan"].scale.map["pro"], 100)  # type: ignore[union-attr]


def test_scales_are_learned_from_the_given_rows_only() -> None:
    """Labels outside the training mask (test dates, other folds) change nothing.

    The model's points are the wrong way round for both signals, so learned ones win.
    """
    rng = np.random.default_rng(0)
    n = 400
    value = rng.uniform(0, 10, n)
    plan = rng.choice(["pro", "basic"], n)
    churned = (rng.uniform(size=n) < np.where(plan == "basic", 0.4, 0.1) + value / 40).astype(float)
    data = ScaleData(
        raw=pd.DataFrame({"plan": np.nan, "usage": value}),
        text=pd.DataFrame({"plan": plan, "usage": None}),
        points=pd.DataFrame({"plan": np.where(plan == "pro", 0.0, 100.0), "usage": value * 10}),
        replaced={"plan": "categorical", "usage": "linear"},
    )
    train = np.arange(n) < 300
    accounts = np.array([f"a{i}" for i in range(n)], dtype=object)
    first = data.learn(train, churned, accounts)
    flipped = churned.copy()
    flipped[~train] = 1 - flipped[~train]
    second = data.learn(train, flipped, accounts)
    assert set(first) == {"plan", "usage"}
    assert {k: s.scale for k, s in first.items()} == {k: s.scale for k, s in second.items()}
    assert first["plan"].rows == 300 and first["usage"].better == "lower"
    points = data.points_with(first)
    assert points["plan"].tolist() == [first["plan"].scale.map[p] for p in plan]  # type: ignore[union-attr]


def test_the_docs_state_the_constants_the_code_uses() -> None:
    from vitalsign.analytics import learned_scales as ls

    text = (Path(__file__).parents[2] / "docs" / "backtest.md").read_text(encoding="utf-8")
    section = text[text.index("### Learned scales") :]
    assert f"a prior of {ls.PRIOR_ROWS:.0f} rows (`PRIOR_ROWS`)" in section
    assert f"at most **{ls.MAX_STEPS} breakpoints** (`MAX_STEPS`)" in section
    assert f"at most **{ls.MAX_KNOTS} bands** (`MAX_KNOTS`" in section
    from vitalsign.analytics import scale_choice as sc

    assert (
        f"(`MARGIN_ROWS` = {sc.MARGIN_ROWS:g}:" in section and f"{sc.INNER_FOLDS} inner" in section
    )
    assert f"at least {ls.MIN_BAND_SHARE:.0%} of the rows".replace("%", " %") in section
    assert f"at least {ls.MIN_ROWS} training rows with a value, {ls.MIN_CHURNED}" in section
