"""Outcomes on small generated billing worlds, against hand-computed expectations (issue 17)."""

from __future__ import annotations

import itertools
from pathlib import Path

import duckdb
import pandas as pd

from vitalsign.analytics.datasets.tables import write_tables
from vitalsign.analytics.outcomes import (
    CENSORED,
    LABELLED,
    data_end,
    derive_outcomes,
    label_snapshots,
    read_outcomes,
)
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.store.schema import canonical_ddl

END = pd.Timestamp("2024-01-01")
Sub = tuple[str, str, str, str | None, str, float]  # id, account, start, end, status, mrr


def _world(subs: list[Sub], events: dict[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for table in CANONICAL_TABLES.values():
        connection.execute(canonical_ddl(table))
    frame = pd.DataFrame(
        subs, columns=["subscription_id", "account_id", "started_at", "ended_at", "status", "mrr"]
    )
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column])
    tables = {"subscriptions": frame}
    if events:
        tables["events"] = pd.DataFrame(
            {"event_id": [f"e{i}" for i in range(len(events))], "account_id": list(events),
             "timestamp": pd.to_datetime(list(events.values()), format="ISO8601"), "event": "login"}
        )  # fmt: skip
    write_tables(connection, tables)
    return connection


def _got(connection: duckdb.DuckDBPyConnection, until: pd.Timestamp | None = END) -> dict:
    frame = derive_outcomes(connection, until)
    return {(r.account_id, f"{r.occurred_at:%Y-%m-%d}", r.kind): (r.arr_before, r.arr_after)
            for r in frame.itertuples()}  # fmt: skip


def _monthly(account: str, first: str, months: int, mrr: float, status: str = "expired") -> list:
    starts = pd.date_range(first, periods=months + 1, freq="MS")
    return [(f"{account}{i}", account, f"{a:%Y-%m-%d}", f"{b:%Y-%m-%d}",
             "active" if b > END else status, mrr)
            for i, (a, b) in enumerate(itertools.pairwise(starts))]  # fmt: skip


def test_plans_of_every_period_renew_grow_shrink_and_churn() -> None:
    subs = [
        # M: monthly at 100 from Sep to Dec 2023, renewed on 1 Oct, 1 Nov, 1 Dec; the last period
        # ends 2024-01-01 = the data's end with nothing after: pending, not a churn
        *_monthly("M", "2023-09-01", 4, 100.0),
        # H: half-yearly 600 then upgraded to 900 at the renewal of 2023-07-01
        ("h1", "H", "2023-01-01", "2023-07-01", "expired", 600.0),
        ("h2", "H", "2023-07-01", "2024-01-01", "expired", 900.0),
        ("h3", "H", "2024-01-01", "2024-07-01", "active", 900.0),  # scheduled end
        # Y: annual 1000 downgraded to 800 at its renewal, scheduled to end in 2025
        ("y1", "Y", "2023-01-01", "2024-01-01", "expired", 1000.0),
        ("y2", "Y", "2024-01-01", "2025-01-01", "active", 800.0),
        # D: annual that ended on 2023-06-01 without a successor, status still "past_due"
        ("d1", "D", "2022-06-01", "2023-06-01", "past_due", 50.0),
    ]
    assert _got(_world(subs)) == {
        ("M", "2023-10-01", "renewed"): (1200.0, 1200.0),
        ("M", "2023-11-01", "renewed"): (1200.0, 1200.0),
        ("M", "2023-12-01", "renewed"): (1200.0, 1200.0),
        ("H", "2023-07-01", "renewed"): (7200.0, 10800.0),
        ("H", "2023-07-01", "expanded"): (7200.0, 10800.0),
        ("H", "2024-01-01", "renewed"): (10800.0, 10800.0),
        ("Y", "2024-01-01", "renewed"): (12000.0, 9600.0),
        ("Y", "2024-01-01", "contracted"): (12000.0, 9600.0),
        ("D", "2023-06-01", "churned"): (600.0, 0.0),
    }


def test_a_plan_and_its_add_ons_renewing_the_same_day_at_the_same_total_are_one_renewal() -> None:
    subs = [
        ("p1", "A", "2023-01-01", "2023-07-01", "expired", 500.0),
        ("x1", "A", "2023-01-01", "2023-07-01", "expired", 100.0),
        ("x2", "A", "2023-01-01", "2023-07-01", "expired", 200.0),
        # the split moves (plan 300, add-ons 200 + 300) but the account's total stays 800
        ("p2", "A", "2023-07-01", "2024-07-01", "active", 300.0),
        ("x3", "A", "2023-07-01", "2024-07-01", "active", 200.0),
        ("x4", "A", "2023-07-01", "2024-07-01", "active", 300.0),
    ]
    assert _got(_world(subs)) == {("A", "2023-07-01", "renewed"): (9600.0, 9600.0)}


def test_add_ons_added_and_dropped_change_the_accounts_total() -> None:
    subs = [
        ("p", "B", "2023-01-01", "2025-01-01", "active", 1000.0),  # a two-year plan
        ("a", "B", "2023-03-15", "2023-09-15", "expired", 250.0),  # add-on, then dropped
        ("c", "B", "2023-05-01", "2025-01-01", "active", 100.0),  # add-on kept
    ]
    assert _got(_world(subs)) == {
        ("B", "2023-03-15", "expanded"): (12000.0, 15000.0),
        ("B", "2023-05-01", "expanded"): (15000.0, 16200.0),
        ("B", "2023-09-15", "contracted"): (16200.0, 13200.0),
    }


def test_pauses_shorter_than_the_grace_period_renew_and_longer_ones_churn_and_reactivate() -> None:
    subs = [
        # S pauses 20 days (< 30): one tenure, a renewal on the day it ended
        ("s1", "S", "2023-01-01", "2023-04-01", "expired", 100.0),
        ("s2", "S", "2023-04-21", "2023-12-21", "expired", 100.0),
        ("s3", "S", "2023-12-21", "2024-03-21", "active", 100.0),
        # L pauses 61 days (> 30): a churn, then a reactivation at a higher price
        ("l1", "L", "2023-01-01", "2023-03-01", "expired", 80.0),
        ("l2", "L", "2023-05-01", "2024-05-01", "active", 120.0),
    ]
    assert _got(_world(subs)) == {
        ("S", "2023-04-01", "renewed"): (1200.0, 1200.0),
        ("S", "2023-12-21", "renewed"): (1200.0, 1200.0),
        ("L", "2023-03-01", "churned"): (960.0, 0.0),
        ("L", "2023-05-01", "reactivated"): (0.0, 1440.0),
    }


def test_the_data_end_is_the_latest_activity_never_a_scheduled_period_end() -> None:
    subs = [
        ("a1", "A", "2023-01-01", "2024-01-01", "expired", 1000.0),
        ("a2", "A", "2024-01-01", "2025-01-01", "active", 1000.0),  # scheduled end in 2025
        ("c1", "C", "2023-07-01", "2024-07-01", "active", 500.0),  # scheduled end in 2024
    ]
    connection = _world(subs, {"A": "2023-12-31 10:00", "C": "2023-12-20"})
    found = data_end(connection)
    assert found.at == END and found.warning is None and found.scheduled == 2
    assert "Data ends 2024-01-01" in found.summary() and "scheduled, not history" in found.summary()
    # before the fix the end was 2025-01-01 and both scheduled ends were churns
    assert _got(connection, None) == {("A", "2024-01-01", "renewed"): (12000.0, 12000.0)}


def test_tables_that_disagree_by_more_than_a_period_are_warned_about_with_the_until_fix() -> None:
    subs = [("a1", "A", "2023-01-01", None, "active", 10.0)]
    found = data_end(_world(subs, {"A": "2023-03-01"}))
    assert found.at == pd.Timestamp("2023-03-01")
    assert found.warning is not None and "--until 2023-01-01" in found.warning


def test_future_dated_rows_are_scheduled_not_history() -> None:
    subs = [("a1", "A", "2023-01-01", None, "active", 10.0)]
    connection = _world(subs, {"A": "2023-12-01"})
    connection.execute(
        "INSERT INTO events (event_id, account_id, timestamp, event) "
        "VALUES ('future', 'A', TIMESTAMP '2999-01-01', 'login')"
    )
    assert data_end(connection).at == pd.Timestamp("2023-12-01")


def test_a_churn_near_the_end_is_pending_until_the_grace_passed_and_rows_are_too_recent() -> None:
    subs = [
        # N ended 2023-12-10, 22 days before the data's end, not canceled: not known yet
        ("n1", "N", "2023-11-10", "2023-12-10", "past_due", 100.0),
        # O ended 2023-11-15, 47 days before: a churn whatever its status
        ("o1", "O", "2023-10-15", "2023-11-15", "active", 50.0),
        # K was canceled 2023-12-15: the customer said so, a churn at once
        ("k1", "K", "2023-06-01", "2023-12-15", "canceled", 70.0),
        ("z1", "Z", "2023-01-01", None, "active", 10.0),
    ]
    connection = _world(subs, {"Z": "2024-01-01"})
    outcomes = read_outcomes(connection)
    assert set(map(tuple, outcomes.churns.to_numpy())) == {
        ("O", pd.Timestamp("2023-11-15")),
        ("K", pd.Timestamp("2023-12-15")),
    }
    assert list(outcomes.pending["account_id"]) == ["N"]
    rows = pd.DataFrame(
        [(a, pd.Timestamp("2023-11-20")) for a in ("N", "Z", "K")]
        + [("N", pd.Timestamp("2023-10-01")), ("O", pd.Timestamp("2023-10-20"))],
        columns=["account_id", "as_of"],
    )
    labels = label_snapshots(rows, outcomes, 30)
    assert list(labels["status"]) == [CENSORED, LABELLED, LABELLED, LABELLED, LABELLED]
    assert list(labels["churned"]) == [False, False, True, False, True]
    assert list(labels["pending"]) == [True, False, False, False, False]
    late = label_snapshots(pd.DataFrame({"account_id": ["N"], "as_of": [END]}), outcomes, 30)
    assert list(late["status"]) == [CENSORED] and list(late["pending"]) == [False]  # past the end


def test_a_canceled_end_that_is_the_newest_activity_is_named_so() -> None:
    subs = [
        ("a1", "A", "2023-01-01", "2023-12-20", "canceled", 10.0),
        ("b1", "B", "2023-12-15", None, "active", 10.0),
    ]
    found = data_end(_world(subs, {"B": "2023-12-10"}))
    assert found.at == pd.Timestamp("2023-12-20")
    assert "canceled subscription end 2023-12-20" in found.summary()
    assert "subscription start" not in found.summary()


def test_an_until_after_today_is_refused_with_the_fix(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vitalsign.cli import app
    from vitalsign.store.workspace import init_workspace

    init_workspace(tmp_path / "ws").close()
    result = CliRunner().invoke(
        app, ["backtest", "--until", "2999-01-01", "-w", str(tmp_path / "ws")]
    )
    assert result.exit_code != 0
    assert "--until 2999-01-01 is in the future" in str(result.exception)
