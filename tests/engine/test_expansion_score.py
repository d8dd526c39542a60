"""The expansion score, the model's second score kind: points, coverage, contributions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.engine.expansion import expansion_scores
from vitalsign.engine.scoring import score_frame
from vitalsign.model.checks import check_model
from vitalsign.model.spec import (
    Band,
    Expansion,
    Group,
    HealthModel,
    LinearScale,
    PercentileScale,
    Signal,
)

NAMES = ["s0", "s1", "s2", "s3"]
SCALE = LinearScale(type="linear", low=0, high=100)


def _model(weights: list[float], min_coverage: float = 0.0) -> HealthModel:
    signals = {n: Signal(attribute="seats", scale=SCALE) for n in NAMES}
    return HealthModel(
        name="p",
        min_coverage=0.0,
        signals=signals,
        scorecards={"default": {"all": Group(signals={"s0": 1, "s1": 1})}},
        bands=[Band(name="good", min=60), Band(name="bad", min=0)],
        expansion=Expansion(
            signals=dict(zip(NAMES, weights, strict=True)), min_coverage=min_coverage
        ),
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
rows = st.lists(st.lists(values, min_size=4, max_size=4), min_size=1, max_size=8)
weights = st.lists(st.floats(min_value=0.01, max_value=100), min_size=4, max_size=4)


@settings(max_examples=30, deadline=None)
@given(rows=rows, weights=weights, min_coverage=st.floats(min_value=0, max_value=1))
def test_expansion_points_stay_in_0_100_and_contributions_add_up(
    rows: list[list[float | None]], weights: list[float], min_coverage: float
) -> None:
    result = expansion_scores(_frame(rows), _model(weights, min_coverage))
    total = sum(weights)
    for (_, row), raw in zip(result.iterrows(), rows, strict=True):
        parts = {
            n: (row[f"points__{n}"], row[f"weight__{n}"], row[f"points__{n}"] * row[f"weight__{n}"])
            for n in NAMES
        }
        present = [w for w, v in zip(weights, raw, strict=True) if v is not None]
        assert row["coverage"] == pytest.approx(sum(present) / total, abs=1e-9)
        if not present or row["coverage"] < min_coverage:
            assert np.isnan(row["score"])
            continue
        assert -1e-9 <= row["score"] <= 100 + 1e-9
        added = sum(0.0 if np.isnan(p) else c for p, _, c in parts.values())
        assert added == pytest.approx(row["score"], abs=1e-6)
        assert sum(w for _, w, _ in parts.values()) == pytest.approx(1.0, abs=1e-5)
        for name, value in zip(NAMES, raw, strict=True):
            points, weight, _ = parts[name]
            if value is None:
                assert np.isnan(points) and weight == 0
            else:
                assert points == pytest.approx(min(max(value, 0), 100), abs=1e-5)


def test_the_expansion_score_leaves_the_health_score_as_it_was() -> None:
    frame = _frame([[10, 90, 50, None], [80, 20, None, None]])
    with_expansion = _model([1, 1, 2, 1])
    without = with_expansion.model_copy(update={"expansion": None})
    a, b = score_frame(frame, with_expansion), score_frame(frame, without)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    pd.testing.assert_frame_equal(a.items, b.items)


def test_a_heavier_signal_moves_the_score_more() -> None:
    result = expansion_scores(_frame([[100, 0, None, None]]), _model([3, 1, 1, 1]))
    assert result["score"].iloc[0] == pytest.approx(75.0)
    assert result["coverage"].iloc[0] == pytest.approx(4 / 6)


def test_percentile_points_rank_accounts_of_one_date_and_segment() -> None:
    model = _model([1, 1, 1, 1])
    signals = dict(model.signals)
    signals["s0"] = Signal(attribute="seats", scale=PercentileScale(type="percentile"))
    model = model.model_copy(update={"signals": signals, "expansion": Expansion(signals={"s0": 1})})
    frame = _frame([[1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0], [4, 0, 0, 0]])
    frame.loc[2:, "as_of"] = pd.Timestamp(dt.date(2024, 2, 1))  # two dates, two each
    points = expansion_scores(frame, model)["score"].tolist()
    assert points == [50.0, 100.0, 50.0, 100.0]


def test_the_model_check_refuses_unknown_and_unscaled_expansion_signals() -> None:
    model = _model([1, 1, 1, 1])
    signals = {**model.signals, "raw": Signal(attribute="seats")}
    bad = model.model_copy(
        update={"signals": signals, "expansion": Expansion(signals={"nope": 1, "raw": 2})}
    )
    messages = {issue.loc: issue.message for issue in check_model(bad)}
    assert "unknown signal 'nope'" in messages[("expansion", "signals", "nope")]
    assert "has no `scale`" in messages[("expansion", "signals", "raw")]
