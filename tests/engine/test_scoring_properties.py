"""Invariants of scoring, for any points and weights (property tests)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.engine.scoring import score_frame
from vitalsign.model.spec import Band, Group, HealthModel, LinearScale, Signal

NAMES = ["s0", "s1", "s2", "s3", "s4"]
SCALE = LinearScale(type="linear", low=0, high=100)


def _model(
    weights: list[float], group_weights: tuple[float, float], b_weight: float = 1.0
) -> HealthModel:
    signals = {n: Signal(attribute="seats", scale=SCALE) for n in NAMES}
    inner = Group(weight=group_weights[1], signals={"s3": weights[3], "s4": weights[4]})
    groups = {
        "a": Group(weight=group_weights[0], signals={"s0": weights[0], "s1": weights[1]}),
        "b": Group(weight=b_weight, signals={"s2": weights[2]}, groups={"inner": inner}),
    }
    return HealthModel(
        name="p",
        min_coverage=0.0,
        signals=signals,
        scorecards={"default": groups},
        bands=[Band(name="good", min=60), Band(name="bad", min=0)],
    )


def _frame(rows: list[list[float | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(len(rows))],
            "as_of": pd.Timestamp(dt.date(2024, 1, 1)),
            "name": None,
            "owner": None,
            "segment": None,
            "arr": 1.0,
            "scorecard": "default",
            "model_segment": "default",
            "gate_pass": True,
        }
    )
    for j, name in enumerate(NAMES):
        frame[f"s__{name}"] = [np.nan if r[j] is None else r[j] for r in rows]
    return frame


values = st.one_of(st.none(), st.floats(min_value=-50, max_value=150, allow_nan=False))
rows = st.lists(st.lists(values, min_size=5, max_size=5), min_size=1, max_size=8)
weights = st.lists(st.floats(min_value=0.01, max_value=100), min_size=5, max_size=5)
group_weights = st.tuples(
    st.floats(min_value=0.01, max_value=100), st.floats(min_value=0.01, max_value=100)
)


@settings(max_examples=25, deadline=None)
@given(rows=rows, weights=weights, group_weights=group_weights)
def test_scores_stay_within_0_and_100_and_contributions_add_up(
    rows: list[list[float | None]], weights: list[float], group_weights: tuple[float, float]
) -> None:
    scored = score_frame(_frame(rows), _model(weights, group_weights))
    scores = scored.scores.set_index("account_id")
    signals = scored.items[scored.items["kind"] == "signal"]
    sums = signals.groupby("account_id")["contribution"].sum()
    for account, row in scores.iterrows():
        if np.isnan(row["base_score"]):
            assert row["coverage"] == 0
            continue
        assert -1e-9 <= row["score"] <= 100 + 1e-9
        assert sums[account] == pytest.approx(row["base_score"], abs=1e-7)
        weights_sum = signals[signals["account_id"] == account]["weight"].sum()
        assert abs(weights_sum - 1.0) < 1e-9
        assert 0.0 <= row["coverage"] <= 1.0 + 1e-12


@settings(max_examples=20, deadline=None)
@given(rows=rows, weights=weights, factor=st.floats(min_value=0.01, max_value=1000))
def test_weights_are_scale_free(
    rows: list[list[float | None]], weights: list[float], factor: float
) -> None:
    base = score_frame(_frame(rows), _model(weights, (1.0, 2.0))).scores
    scaled = score_frame(
        _frame(rows), _model([w * factor for w in weights], (factor, 2.0 * factor), factor)
    ).scores
    assert np.allclose(base["score"], scaled["score"], equal_nan=True, atol=1e-7)
    assert np.allclose(base["coverage"], scaled["coverage"], atol=1e-9)


@settings(max_examples=10, deadline=None)
@given(rows=rows)
def test_a_failed_gate_always_scores_zero(rows: list[list[float | None]]) -> None:
    frame = _frame(rows).assign(gate_pass=False)
    scored = score_frame(frame, _model([1.0] * 5, (1.0, 1.0))).scores
    assert (scored["score"] == 0).all()


@settings(max_examples=15, deadline=None)
@given(rows=rows, weights=weights, policy=st.sampled_from(["zero", 0.0, 35.5, 100.0]))
def test_signals_with_a_missing_policy_always_count_as_covered(
    rows: list[list[float | None]], weights: list[float], policy: str | float
) -> None:
    model = _model(weights, (1.0, 2.0))
    filled = {n: s.model_copy(update={"missing": policy}) for n, s in model.signals.items()}
    scored = score_frame(_frame(rows), model.model_copy(update={"signals": filled})).scores
    assert np.allclose(scored["coverage"], 1.0, atol=1e-9)
    assert not scored["base_score"].isna().any()


@settings(max_examples=15, deadline=None)
@given(rows=rows, gate=st.booleans())
def test_coverage_below_the_minimum_is_insufficient_data_whatever_the_gate(
    rows: list[list[float | None]], gate: bool
) -> None:
    model = _model([1.0] * 5, (1.0, 1.0)).model_copy(update={"min_coverage": 0.6})
    scored = score_frame(_frame(rows).assign(gate_pass=gate), model).scores
    low = scored["coverage"].to_numpy() < 0.6
    assert (scored.loc[low, "band"] == model.insufficient_band).all()
    assert (scored.loc[~low, "band"] != model.insufficient_band).all()
