"""The array implementations equal the plain pandas formulation; blocks and order don't matter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.engine import scoring
from vitalsign.engine.points import _category, percentile_points, to_points
from vitalsign.engine.scoring import score_frame
from vitalsign.model.loader import parse_model
from vitalsign.model.spec import CategoricalScale, PercentileScale


def pandas_percentile(values: pd.Series, groups: pd.Series, ascending: bool) -> np.ndarray:
    """The straightforward pandas formulation the engine used to run."""
    ranked = values.groupby(groups).rank(method="average", pct=True, ascending=ascending)
    counts = values.groupby(groups).transform("count")
    return (ranked * 100.0).where(counts > 1, 50.0).where(values.notna()).to_numpy()


def pandas_categorical(raw: pd.Series, scale: CategoricalScale) -> np.ndarray:
    """The straightforward pandas formulation of the categorical scale."""
    keys = raw.map(_category, na_action="ignore") if pd.api.types.is_numeric_dtype(raw) else raw
    mapped = pd.to_numeric(keys.astype(object).map(scale.map), errors="coerce")
    if scale.default is not None:
        mapped = mapped.where(mapped.notna() | raw.isna(), scale.default)
    return mapped.astype("float64").to_numpy()


def assert_same(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal to the last bit, NaN where NaN."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])


# few distinct values (ties), whole numbers (counted) and fractions (sorted), some missing
value = st.one_of(
    st.none(),
    st.integers(min_value=-3, max_value=6).map(float),
    st.sampled_from([0.5, -0.0, 2.25, 1e9, -1e-9, float("inf"), float("-inf")]),
    st.floats(min_value=-100, max_value=100, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(value, st.integers(min_value=0, max_value=4)), min_size=1, max_size=60),
    st.booleans(),
)
def test_percentile_points_equal_pandas_ranks_with_ties_gaps_and_lone_accounts(
    rows: list[tuple[float | None, int]], ascending: bool
) -> None:
    values = pd.Series([np.nan if v is None else v for v, _ in rows], dtype="float64")
    groups = pd.Series([g for _, g in rows])
    got = percentile_points(values.to_numpy(), groups.to_numpy(), ascending)
    assert_same(got, pandas_percentile(values, groups, ascending))


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.booleans(), st.booleans())
def test_percentile_points_equal_pandas_ranks_over_many_groups(
    seed: int, whole: bool, ascending: bool
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    raw = rng.integers(0, 40, n) if whole else rng.normal(size=n).round(1)
    values = pd.Series(raw, dtype="float64").mask(rng.random(n) < 0.1)
    groups = pd.Series(rng.integers(0, int(rng.choice([1, 3, 200, 2000])), n))
    got = percentile_points(values.to_numpy(), groups.to_numpy(), ascending)
    assert_same(got, pandas_percentile(values, groups, ascending))


def test_to_points_puts_a_value_without_group_key_at_the_median_as_pandas_did() -> None:
    values = pd.Series([1.0, 2.0, 3.0, np.nan, 5.0])
    groups = pd.Series(["a", "a", None, None, "b"])
    got = to_points(values, PercentileScale(type="percentile"), groups).to_numpy()
    assert_same(got, pandas_percentile(values, groups, True))
    assert got.tolist()[2] == 50.0


categories = st.one_of(
    st.none(), st.sampled_from(["green", "yellow", "red", "purple", "1", "2", "nan"])
)
numbers = st.one_of(st.none(), st.sampled_from([1.0, 2.0, 2.5, -0.0, 0.0, 3.0]))
scales = st.builds(
    CategoricalScale,
    type=st.just("categorical"),
    map=st.just({"green": 100.0, "yellow": 50.0, "red": 0.0, "1": 10.0, "0": 5.0, "2.5": 7.0}),
    default=st.one_of(st.none(), st.just(25.0)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(categories, min_size=1, max_size=40), scales)
def test_categorical_points_equal_pandas_map_for_text(
    raw: list[str | None], scale: CategoricalScale
) -> None:
    series = pd.Series(raw, dtype=object)
    assert_same(to_points(series, scale).to_numpy(), pandas_categorical(series, scale))


@settings(max_examples=200, deadline=None)
@given(st.lists(numbers, min_size=1, max_size=40), scales)
def test_categorical_points_equal_pandas_map_for_numbers(
    raw: list[float | None], scale: CategoricalScale
) -> None:
    series = pd.Series([np.nan if v is None else v for v in raw], dtype="float64")
    assert_same(to_points(series, scale).to_numpy(), pandas_categorical(series, scale))


MODEL_YAML = """\
name: blocks  # the signals' values come from the frame, not from these attributes
min_coverage: 0.5
signals:
  logins: {attribute: seats, scale: {type: percentile}}
  amount: {attribute: seats, scale: {type: percentile, better: lower}}
  tickets:
    attribute: seats
    scale: {type: thresholds, below: 100, steps: [{min: 1, points: 50}, {min: 3, points: 0}]}
  usage: {attribute: seats, missing: zero, scale: {type: linear, low: 0, high: 10}}
  failed: {attribute: seats, missing: 30, scale: {type: boolean, if_true: 0, if_false: 100}}
  csm:
    attribute: plan
    scale: {type: categorical, map: {green: 100, yellow: 50, red: 0}, default: 20}
scorecards:
  default:
    usage: {weight: 2, signals: {logins: 1, usage: 2}}
    support: {signals: {tickets: 1, csm: 1}}
  enterprise:
    usage: {signals: {logins: 1, amount: 1}}
    relationship:
      weight: 1.5
      groups:
        support: {signals: {tickets: 1, failed: 1}}
        voice: {signals: {csm: 1, usage: 1}}
flags:
  quiet: {when: "logins < 1", subtract: 10}
  noisy: {when: "tickets >= 3", cap_band: yellow}
bands:
  - {name: green, min: 70}
  - {name: yellow, min: 40}
  - {name: red, min: 0}
"""


def random_frame(rows: int, seed: int) -> pd.DataFrame:
    """A signal frame for MODEL_YAML: two dates, interleaved scorecards, gaps and ties."""
    rng = np.random.default_rng(seed)

    def gaps(values: np.ndarray) -> np.ndarray:
        return np.where(rng.random(rows) < 0.15, np.nan, values)

    card = rng.choice(["default", "enterprise", "retired"], size=rows, p=[0.6, 0.35, 0.05])
    return pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(rows)],
            "as_of": pd.to_datetime(rng.choice(["2025-01-06", "2025-01-13"], size=rows)),
            "name": "n",
            "owner": "o",
            "segment": card,
            "arr": 1.0,
            "s__logins": gaps(rng.poisson(3, rows).astype(float)),
            "s__amount": gaps(rng.normal(100, 30, rows).round(1)),
            "s__tickets": gaps(rng.poisson(1, rows).astype(float)),
            "s__usage": gaps(rng.normal(5, 4, rows)),
            "s__failed": gaps(rng.integers(0, 2, rows).astype(float)),
            "s__csm": rng.choice(np.array(["green", "yellow", "red", "blue", None]), rows),
            "scorecard": card,
            "model_segment": np.where(rng.random(rows) < 0.5, card, card + "-b"),
            "gate_pass": rng.random(rows) < 0.9,
            "flag__quiet": rng.random(rows) < 0.1,
            "flag__noisy": rng.random(rows) < 0.1,
        }
    )


def test_scores_do_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    model = parse_model(MODEL_YAML, "<test>").spec
    frame = random_frame(3000, seed=1)
    whole = score_frame(frame, model)
    monkeypatch.setattr(scoring, "BLOCK_ROWS", 97)
    blocks = score_frame(frame, model)
    pd.testing.assert_frame_equal(whole.scores, blocks.scores, check_exact=True)
    pd.testing.assert_frame_equal(whole.items, blocks.items, check_exact=True)


def test_scores_do_not_depend_on_the_order_of_the_rows() -> None:
    model = parse_model(MODEL_YAML, "<test>").spec
    frame = random_frame(2000, seed=2)
    key = ["account_id", "as_of", "scorecard"]
    plain = score_frame(frame, model).scores
    shuffled = score_frame(frame.sample(frac=1.0, random_state=3), model).scores
    assert set(plain["scorecard"]) == {"default", "enterprise"}  # rows of no scorecard dropped
    assert plain["scorecard"].is_monotonic_increasing  # by scorecard, as the model lists them
    pd.testing.assert_frame_equal(
        plain.sort_values(key, kind="stable").reset_index(drop=True),
        shuffled.sort_values(key, kind="stable").reset_index(drop=True),
        check_exact=True,
    )
