"""Each aggregation, window and derived signal computed in the backend, checked by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vitalsign.engine.signals import signal_column, signal_table
from vitalsign.model.loader import parse_model
from vitalsign.store.workspace import Workspace

T = dt.date(2024, 3, 1)
MIDNIGHT = dt.datetime(2024, 3, 1)


def at(days: float) -> dt.datetime:
    return MIDNIGHT - dt.timedelta(days=days)


SIGNALS = """
  n: {table: events, aggregate: count, window: 7d}
  users: {table: events, aggregate: count_distinct, column: user_id, window: 28d}
  total: {table: events, aggregate: sum, column: quantity, window: 28d}
  doubled: {table: events, aggregate: sum, value: "quantity * 2", window: 28d}
  avg: {table: events, aggregate: mean, column: quantity, window: 28d}
  low: {table: events, aggregate: min, column: quantity, window: 28d}
  high: {table: events, aggregate: max, column: quantity, window: 28d}
  p50: {table: events, aggregate: percentile, column: quantity, q: 0.5, window: 28d}
  last_q: {table: events, aggregate: latest, column: quantity, window: 28d}
  quiet: {table: events, aggregate: days_since_last, window: 28d}
  first_export: {table: events, aggregate: time_to_first, filter: "event == 'export'"}
  first_never: {table: events, aggregate: time_to_first, filter: "event == 'never'"}
  change: {change: n}
  slope: {trend: n, windows: 4}
  vs_base: {baseline: n, windows: 3}
  per_seat: {ratio: [users, seats]}
  per_zero: {ratio: [users, zero]}
  zero: {attribute: "seats - seats"}
  seats: {attribute: seats}
  renewal: {attribute: days_to_renewal}
  tenure: {attribute: tenure_days}
  combo: {formula: "total + n * 10"}
  empty_mean: {table: tickets, aggregate: mean, column: satisfaction, window: 28d}
  empty_count: {table: tickets, aggregate: count, window: 28d}
"""
MODEL = f"""
name: aggregations
signals:
{SIGNALS}
  score_me: {{attribute: seats, scale: {{type: linear, low: 0, high: 10}}}}
scorecards:
  default:
    g: {{signals: {{score_me: 1}}}}
bands: [{{name: ok, min: 50}}, {{name: bad, min: 0}}]
"""

# Weekly event counts (7-day windows ending at T): now 4, a week earlier 2, then 1, then 1;
# quantities inside the last 28 days: 1, 2, 3, 4 (now) + 5, 6 + 7 + 8 → 36.
EVENTS = [
    ("e1", at(1), "login", "u1", 1.0),
    ("e2", at(2), "login", "u2", 2.0),
    ("e3", at(3), "login", "u1", 3.0),
    ("e4", at(6), "export", "u3", 4.0),
    ("e5", at(8), "login", "u1", 5.0),
    ("e6", at(9), "login", "u1", 6.0),
    ("e7", at(15), "login", "u2", 7.0),
    ("e8", at(22), "export", "u1", 8.0),
    ("e9", at(0), "login", "u9", 100.0),  # at T: never read
]


def _signals(workspace: Workspace) -> dict[str, Any]:
    con = workspace.duckdb
    con.execute(
        "INSERT INTO accounts (account_id, name, created_at, seats, renewal_date) "
        "VALUES ('A', 'A', ?, 8, ?)",
        [at(30), dt.date(2024, 3, 31)],
    )
    con.executemany(
        "INSERT INTO events (event_id, account_id, timestamp, event, user_id, quantity) "
        "VALUES (?, 'A', ?, ?, ?, ?)",
        EVENTS,
    )
    model = parse_model(MODEL).spec
    row = signal_table(workspace.backend, model, [T]).execute().iloc[0]
    return {name: row[signal_column(name)] for name in model.signals}


@pytest.fixture
def values(workspace: Workspace) -> dict[str, Any]:
    return _signals(workspace)


def test_window_reductions(values: dict[str, Any]) -> None:
    assert values["n"] == 4
    assert values["users"] == 3
    assert values["total"] == pytest.approx(36.0)
    assert values["doubled"] == pytest.approx(72.0)
    assert values["avg"] == pytest.approx(4.5)
    assert values["low"] == pytest.approx(1.0)
    assert values["high"] == pytest.approx(8.0)
    assert values["p50"] == pytest.approx(4.5)
    assert values["last_q"] == pytest.approx(1.0)
    assert values["quiet"] == pytest.approx(1.0)


def test_time_to_first_counts_days_from_the_account_start(values: dict[str, Any]) -> None:
    assert values["first_export"] == pytest.approx(8.0)  # created T-30d, first export T-22d
    assert values["first_never"] is None or values["first_never"] != values["first_never"]


def test_change_trend_and_baseline_use_earlier_windows(values: dict[str, Any]) -> None:
    assert values["change"] == pytest.approx((4 - 2) / 2)
    # windows oldest → newest: 1, 1, 2, 4 at x = 0..3 → slope 1.0
    assert values["slope"] == pytest.approx(1.0)
    # current 4 against the mean of the 3 windows before: (2 + 1 + 1) / 3
    assert values["vs_base"] == pytest.approx(4 / (4 / 3))


def test_ratios_attributes_and_formulas(values: dict[str, Any]) -> None:
    assert values["per_seat"] == pytest.approx(3 / 8)
    assert values["per_zero"] is None or values["per_zero"] != values["per_zero"]
    assert values["seats"] == 8
    assert values["renewal"] == pytest.approx(30.0)
    assert values["tenure"] == pytest.approx(30.0)
    assert values["combo"] == pytest.approx(36.0 + 40)


def test_an_empty_window_is_zero_for_counts_and_missing_for_means(values: dict[str, Any]) -> None:
    assert values["empty_count"] == 0
    assert values["empty_mean"] is None or values["empty_mean"] != values["empty_mean"]


def test_days_to_renewal_rolls_a_future_renewal_back_to_the_term_in_force(
    workspace: Workspace,
) -> None:
    workspace.duckdb.execute(
        "INSERT INTO accounts (account_id, name, created_at, renewal_date) VALUES "
        "('A', 'A', ?, ?), ('B', 'B', ?, ?)",
        [at(800), dt.date(2025, 3, 11), at(800), dt.date(2024, 2, 20)],
    )
    model = parse_model(MODEL).spec
    rows = signal_table(workspace.backend, model, [T]).execute().set_index("account_id")
    # 2025-03-11 is 375 days after T: one annual term back, the renewal is 10 days ahead
    assert rows.loc["A", signal_column("renewal")] == pytest.approx(10.0)
    assert rows.loc["B", signal_column("renewal")] == pytest.approx(-10.0)  # overdue


def test_a_nan_number_is_missing_like_an_empty_cell(workspace: Workspace) -> None:
    workspace.duckdb.execute(
        "INSERT INTO events (event_id, account_id, timestamp, event, user_id, quantity) "
        "VALUES ('nan', 'A', ?, 'export', 'u1', 'NaN'::DOUBLE)",
        [at(4.5)],
    )
    values = _signals(workspace)
    # the NaN row counts as a row (n) but its quantity is skipped, as a NULL would be
    assert values["n"] == 5
    assert values["total"] == pytest.approx(36.0)
    assert values["avg"] == pytest.approx(4.5)
    assert values["high"] == pytest.approx(8.0)
    assert values["p50"] == pytest.approx(4.5)
    assert values["last_q"] == pytest.approx(1.0)
