"""A percentile scale gives the same points on every engine, whatever the order of float sums.

Engines add the same numbers in different orders, so a mean or a sum can differ in its
last bit between DuckDB, Spark and PostgreSQL (bench/engines.py: raw values equal to
4e-16, yet scores up to 0.023 points apart, from accounts swapping ranks).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.engine.points import percentile_points, snap_near_ties

# means of real data: ties are common, distinct values are far more than 1e-12 apart
finite = st.integers(-(10**6), 10**6).filter(lambda k: k != 0).map(lambda k: k / 7)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=2, max_size=40), st.data(), st.booleans())
def test_values_a_few_ulps_apart_get_the_same_percentile_points(
    values: list[float], data: st.DataObject, ascending: bool
) -> None:
    exact = np.array(values)
    steps = data.draw(st.lists(st.integers(-2, 2), min_size=len(values), max_size=len(values)))
    nudged = exact.copy()
    for i, step in enumerate(steps):  # the same value summed in another order
        for _ in range(abs(step)):
            nudged[i] = np.nextafter(nudged[i], np.inf if step > 0 else -np.inf)
    groups = np.zeros(len(values), dtype=np.int64)
    a, b = (percentile_points(v, groups, ascending) for v in (exact, nudged))
    assert np.array_equal(a, b), (exact.tolist(), nudged.tolist(), a.tolist(), b.tolist())


def test_two_accounts_one_bit_apart_tie_instead_of_swapping_ranks() -> None:
    a = 0.1 + 0.2  # 0.30000000000000004
    b = 0.3
    groups = np.zeros(3, dtype=np.int64)
    one = percentile_points(np.array([a, b, 1.0]), groups, True)
    other = percentile_points(np.array([b, a, 1.0]), groups, True)
    assert one.tolist() == other.tolist() and one[0] == one[1]  # a tie, on both engines


def test_distinct_values_counts_and_nan_are_left_as_they_are() -> None:
    values = np.array([1.0, 1.0 + 1e-9, np.nan, 2.0])
    assert np.array_equal(snap_near_ties(values), values, equal_nan=True)
    counts = np.array([3.0, 1.0, 2.0])
    assert snap_near_ties(counts) is counts
