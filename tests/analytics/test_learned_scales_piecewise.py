"""Learned piecewise scales and the choice between the model's scale and learned ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.learned_scales import MAX_KNOTS, LearnedScale, learn_piecewise
from vitalsign.analytics.scale_choice import HAND, choose_jointly, joint_loss, one_signal_loss
from vitalsign.analytics.scale_proposal import ScaleData, with_learned_scales
from vitalsign.engine.points import scale_points
from vitalsign.model.loader import parse_model
from vitalsign.model.spec import PiecewiseScale

MODEL = """\
name: tiny
signals:
  days: {table: events, aggregate: days_since_last, window: 90d,
         scale: {type: linear, low: 0, high: 60, better: lower}}
scorecards:
  default:
    all: {signals: {days: 1}}
bands: [{name: green, min: 70}, {name: red, min: 0}]
"""


def _curve(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Days since the last login (0..60) and churn whose log-odds rise steeply, then flatten."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0, 60, n), 1)
    logit = -3.5 + 3.0 * np.minimum(x, 20) / 20
    return x, (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)


def test_a_known_curve_is_recovered_monotone_with_values_in_a_band_still_apart() -> None:
    x, y = _curve(6000, 1)
    found = learn_piecewise(x, y)
    assert found is not None
    scale, levels, better = found
    assert better == "lower" and 2 <= len(scale.knots) <= MAX_KNOTS
    points = scale_points(pd.Series(np.arange(0, 61, 1.0)), scale)
    assert np.all(np.diff(points) <= 1e-9) and points[0] == 100 and points[-1] == 0
    # the steep part (0..20 days) loses most of the points, the flat tail little
    assert points[0] - points[20] > 70 and points[20] - points[60] < 30
    first, second = scale.knots[0], scale.knots[1]
    middle = scale_points(pd.Series([(first.value + second.value) / 2]), scale)[0]
    assert second.points < middle < first.points  # between knots: linear, not one band
    rates = [lv.rate for lv in levels]
    assert rates == sorted(rates)  # more days, more churn


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=20, max_size=200),
    st.integers(0, 10_000),
    st.integers(2, 10),
)
def test_learned_piecewise_points_stay_in_0_100_and_monotone(
    values: list[float], seed: int, knots: int
) -> None:
    x = np.asarray(values)
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=x.size) < 1 / (1 + np.exp(-x / (np.std(x) + 1)))).astype(float)
    found = learn_piecewise(x, y, max_knots=knots)
    if found is None:
        return
    scale, _, better = found
    assert len(scale.knots) <= knots
    probe = np.sort(np.concatenate([x, rng.uniform(x.min() - 10, x.max() + 10, 50)]))
    points = scale_points(pd.Series(probe), scale)
    assert np.all((points >= -1e-9) & (points <= 100 + 1e-9))  # interpolation's rounding
    steps = np.diff(points)
    assert np.all(steps >= -1e-9) if better == "higher" else np.all(steps <= 1e-9)


def test_the_loss_refuses_points_that_reward_churn() -> None:
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 100, 2000)
    y = (rng.uniform(size=2000) < 0.1 + points / 250).astype(float)  # more points, more churn
    flat = one_signal_loss(np.full(2000, 50.0), y)
    assert abs(one_signal_loss(points, y) - flat) < 1e-6  # as if the signal said nothing
    assert one_signal_loss(100 - points, y) < flat - 0.005
    assert joint_loss([points, 100 - points], y) < flat - 0.005


def _data(hand: np.ndarray, x: np.ndarray) -> ScaleData:
    return ScaleData(
        raw=pd.DataFrame({"days": x}),
        text=pd.DataFrame({"days": [None] * x.size}),
        points=pd.DataFrame({"days": hand}),
        replaced={"days": "linear"},
    )


def test_the_model_scale_stays_where_it_is_right_and_a_learned_one_replaces_a_wrong_one() -> None:
    x, y = _curve(4000, 2)
    accounts = np.array([f"a{i // 2}" for i in range(x.size)], dtype=object)
    rows = np.ones(x.size, dtype=bool)
    right = 100 * (1 - np.minimum(x, 20) / 20)  # the true shape: linear in log-odds to 20
    kept = _data(right, x)
    assert kept.learn(rows, y, accounts) == {}
    assert "scale kept" in kept.notes[0]
    wrong = 100 * (1 - x / 600)  # a range ten times too wide: 90..100 points, linear
    learned = _data(wrong, x).learn(rows, y, accounts)
    assert set(learned) == {"days"} and learned["days"].better == "lower"
    assert learned["days"].chosen  # the comparison is recorded for the file's comment


def test_a_learned_candidate_that_predicts_nothing_never_replaces_the_model_s_scale() -> None:
    rng = np.random.default_rng(5)
    hand = rng.uniform(0, 100, 1000)
    y = (rng.uniform(size=1000) < 0.5 - hand / 250).astype(float)  # the model's points warn
    noise = {HAND: hand, "piecewise": rng.uniform(0, 100, 1000)}
    choice = choose_jointly({"a": noise}, y)["a"]
    assert choice.winner == HAND and choice.losses[HAND] < choice.losses["piecewise"]


def test_a_piecewise_proposal_loads_explains_itself_and_scores_in_0_100() -> None:
    x, y = _curve(3000, 4)
    found = learn_piecewise(x, y)
    assert found is not None
    scale, levels, better = found
    learned = {
        "days": LearnedScale(
            "days", scale, 3000, 1500, int(y.sum()), float(y.mean()), levels, better, "linear",
            "piecewise 0.3012, model 0.3100, thresholds 0.3050",
        )
    }  # fmt: skip
    text = with_learned_scales(MODEL, learned)
    spec = parse_model(text, "<test>").spec
    loaded = spec.signals["days"].scale
    assert isinstance(loaded, PiecewiseScale) and loaded == scale
    comments = " ".join(line.strip()[2:] for line in text.splitlines() if "    # " in line)
    assert "a knot at each band's median value, points linear between knots" in comments
    assert "Chosen over the linear scale: learned out of fold within the training" in comments
    assert all(len(line) <= 100 for line in text.splitlines())
    points = scale_points(pd.Series(np.linspace(-10, 100, 200)), loaded)
    assert np.all((points >= 0) & (points <= 100))
