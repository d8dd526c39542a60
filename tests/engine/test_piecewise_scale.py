"""The piecewise scale: linear between knots, clamped outside, on every route that reads it.

The pandas points (engine/points.py), the Ibis expression every engine compiles
(score_expressions.py, here on DuckDB; tests/engine/engine_worlds.py's aggregations world
compares PostgreSQL and Spark with it), the "what it would take" inverse (scales.py), the
model check's range warning (scale_fit.py), --reverse (proposal.py) and the loader's refusals.
"""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from vitalsign.analytics.proposal import _reverse_scale
from vitalsign.analytics.signal_checks import declared_direction
from vitalsign.engine.points import to_points
from vitalsign.engine.scale_expressions import scale_points
from vitalsign.engine.scale_fit import scale_misses
from vitalsign.engine.scales import SignalState, best_points, piecewise_points, step_to
from vitalsign.errors import ModelError
from vitalsign.model.loader import parse_model
from vitalsign.model.spec import Knot, PiecewiseScale

CURVE = PiecewiseScale(
    type="piecewise",
    knots=[
        Knot(value=0, points=0),
        Knot(value=4, points=60),
        Knot(value=12, points=90),
        Knot(value=20, points=100),
    ],
)
DOWN = PiecewiseScale(
    type="piecewise",
    knots=[Knot(value=1, points=100), Knot(value=7, points=70), Knot(value=30, points=0)],
)
MODEL = """\
name: curve
signals:
  logins: {table: events, aggregate: count, window: 30d,
           scale: {type: piecewise, knots: [{value: 0, points: 0}, {value: 5, points: 80},
                                            {value: 20, points: 100}]}}
scorecards:
  default:
    usage: {signals: {logins: 1}}
bands: [{name: green, min: 70}, {name: red, min: 0}]
"""


def test_points_are_linear_between_knots_and_clamped_outside() -> None:
    values = pd.Series([-5.0, 0, 2, 4, 8, 12, 16, 20, 99, None])
    got = to_points(values, CURVE).round(9).tolist()
    assert got[:-1] == [0.0, 0.0, 30.0, 60.0, 75.0, 90.0, 95.0, 100.0, 100.0]
    assert math.isnan(got[-1])


def test_a_falling_curve_gives_more_points_to_lower_values() -> None:
    assert to_points(pd.Series([0.0, 1, 4, 7, 18.5, 30, 40]), DOWN).round(9).tolist() == [
        100.0, 100.0, 85.0, 70.0, 35.0, 0.0, 0.0,
    ]  # fmt: skip
    assert declared_direction(DOWN) == "lower" and declared_direction(CURVE) == "higher"


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-50, max_value=50, allow_nan=False) | st.none(), min_size=1, max_size=30
    )
)
def test_the_engine_expression_equals_the_pandas_points(values: list[float | None]) -> None:
    frame = pd.DataFrame({"v": pd.Series(values, dtype="float64")})
    table = ibis.memtable(frame)
    for scale in (CURVE, DOWN):
        engine = table.select(p=scale_points(table, "v", scale)).to_pandas()["p"].to_numpy()
        expected = to_points(frame["v"], scale).to_numpy()
        assert np.array_equal(np.isnan(engine), np.isnan(expected))
        ok = ~np.isnan(expected)
        assert np.allclose(engine[ok], expected[ok], atol=1e-9)
        one = [piecewise_points(scale, float(v)) for v in frame["v"][ok]]
        assert np.allclose(one, expected[ok], atol=1e-9)


def test_the_way_back_names_the_value_that_earns_the_points() -> None:
    state = SignalState("logins", CURVE, 2, 30.0, 0.5, whole=True)
    step = step_to(state, 75.0)
    assert step is not None and step.text == "logins ≥ 8 (now 2: 6 more)"
    assert step.points_after == pytest.approx(75.0)
    down = step_to(SignalState("days", DOWN, 20, to_points(pd.Series([20.0]), DOWN)[0], 0.5), 70)
    assert down is not None and down.target == "≤ 7" and down.points_after == pytest.approx(70)
    assert step_to(state, 100.5) is None and best_points(CURVE) == 100


def test_a_curve_that_gives_every_value_the_same_points_misses_the_data() -> None:
    assert "every account with a value gets 100 points" in (
        scale_misses(CURVE, pd.Series([25.0, 30.0, 40.0])) or ""
    )
    assert scale_misses(CURVE, pd.Series([1.0, 5.0, 30.0])) is None


def test_the_loader_reads_a_curve_and_refuses_knots_out_of_order() -> None:
    model = parse_model(MODEL, "models/curve.yml")
    assert isinstance(model.spec.signals["logins"].scale, PiecewiseScale)
    with pytest.raises(ModelError, match="strictly increasing `value`"):
        parse_model(MODEL.replace("{value: 5,", "{value: 25,"), "models/curve.yml")
    one = MODEL.replace(
        "{value: 0, points: 0}, {value: 5, points: 80},\n"
        "                                            {value: 20, points: 100}",
        "{value: 0, points: 0}",
    )
    with pytest.raises(ModelError, match="knots"):
        parse_model(one, "models/curve.yml")


def test_reverse_turns_each_knot_s_points() -> None:
    yaml = YAML(typ="rt")
    signal = yaml.load(
        "scale: {type: piecewise, knots: [{value: 0, points: 10}, {value: 5, points: 80}]}"
    )
    _reverse_scale(signal)
    assert [k["points"] for k in signal["scale"]["knots"]] == [90, 20]
