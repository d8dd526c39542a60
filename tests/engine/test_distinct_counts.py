"""count_distinct over evenly spaced dates (bit masks) equals the spine join's COUNT(DISTINCT)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vitalsign.engine import signals
from vitalsign.engine.distinct_counts import regular_step
from vitalsign.engine.signals import signal_table
from vitalsign.model.loader import parse_model
from vitalsign.store.workspace import Workspace

LAST = dt.date(2024, 6, 3)
MIDNIGHT = dt.datetime(2024, 6, 3)


def _model(window: int) -> str:
    return f"""
name: distinct
signals:
  users: {{table: events, aggregate: count_distinct, column: user_id, window: {window}d}}
  exporters:
    table: events
    aggregate: count_distinct
    column: user_id
    filter: "event == 'export'"
    window: {window + 5}d
  features: {{table: events, aggregate: count_distinct, value: "feature", window: 3d}}
  user_change: {{change: users}}
  user_trend: {{trend: users, windows: 3}}
  seats: {{attribute: seats, scale: {{type: linear, low: 0, high: 10}}}}
scorecards:
  default:
    g: {{signals: {{seats: 1}}}}
bands: [{{name: ok, min: 50}}, {{name: bad, min: 0}}]
"""


def _load(con: duckdb.DuckDBPyConnection, events: list[tuple[int, float, int, bool]]) -> None:
    con.execute("DELETE FROM events")
    con.execute("DELETE FROM accounts")
    con.executemany(
        "INSERT INTO accounts (account_id, name, created_at, seats) VALUES (?, ?, ?, 5)",
        [(f"a{i}", f"A{i}", MIDNIGHT - dt.timedelta(days=700)) for i in range(3)],
    )
    con.executemany(
        "INSERT INTO events (event_id, account_id, timestamp, event, user_id, feature) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                f"e{n}",
                f"a{account}",
                MIDNIGHT - dt.timedelta(days=days),
                "export" if export else "login",
                None if user == 0 else f"u{user}",
                f"f{user % 3}",
            )
            for n, (account, days, user, export) in enumerate(events)
        ],
    )


def _both(ws: Workspace, window: int, dates: list[dt.date]) -> tuple[pd.DataFrame, pd.DataFrame]:
    model = parse_model(_model(window)).spec
    fast = signal_table(ws.backend, model, dates).execute()
    original = signals.regular_step
    signals.regular_step = lambda _dates: None  # the spine join with COUNT(DISTINCT)
    try:
        joined = signal_table(ws.backend, model, dates).execute()
    finally:
        signals.regular_step = original
    order = ["account_id", "as_of"]
    return (
        fast.sort_values(order).reset_index(drop=True),
        joined.sort_values(order).reset_index(drop=True),
    )


@pytest.fixture
def events_workspace(workspace: Workspace) -> Iterator[Workspace]:
    """The shared workspace, reloaded by each example."""
    yield workspace


EVENT = st.tuples(
    st.integers(0, 2),
    st.floats(0, 160, allow_nan=False).map(lambda d: round(d * 4) / 4),  # quarter days
    st.integers(0, 6),
    st.booleans(),
)


@settings(  # each example compiles and runs two signal tables (~0.5 s): 12 keep it ~6 s
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(EVENT, min_size=1, max_size=60),
    window=st.integers(1, 40),
    step=st.integers(1, 10),
    count=st.integers(3, 9),
)
def test_bit_masks_count_the_same_distinct_values_as_the_spine_join(
    events_workspace: Workspace,
    events: list[tuple[int, float, int, bool]],
    window: int,
    step: int,
    count: int,
) -> None:
    _load(events_workspace.duckdb, events)
    dates = [LAST - dt.timedelta(days=step * i) for i in range(count)][::-1]
    fast, joined = _both(events_workspace, window, dates)
    columns = [c for c in joined.columns if c.startswith("s__")]
    pd.testing.assert_frame_equal(fast[columns], joined[columns], check_dtype=False)


def test_more_dates_than_one_mask_holds_are_counted_across_masks(
    events_workspace: Workspace,
) -> None:
    events = [(a, d * 1.5, d % 7, d % 2 == 0) for a in range(3) for d in range(0, 600, 3)]
    _load(events_workspace.duckdb, events)
    dates = [LAST - dt.timedelta(days=7 * i) for i in range(70)][::-1]
    fast, joined = _both(events_workspace, 30, dates)
    assert len(fast) == 3 * 70
    assert fast["s__users"].max() > 0
    columns = [c for c in joined.columns if c.startswith("s__")]
    pd.testing.assert_frame_equal(fast[columns], joined[columns], check_dtype=False)


def test_only_evenly_spaced_dates_take_the_bit_mask_path() -> None:
    day = dt.date(2024, 1, 1)
    assert regular_step([day + dt.timedelta(days=7 * i) for i in range(4)]) == 7
    assert regular_step([day, day + dt.timedelta(days=7)]) is None
    assert regular_step([day, day + dt.timedelta(days=7), day + dt.timedelta(days=21)]) is None
