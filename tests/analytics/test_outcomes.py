"""Outcomes: labels per snapshot, exclusions, censoring, and outcomes derived from subscriptions."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from vitalsign.analytics.datasets.tables import write_tables
from vitalsign.analytics.outcomes import (
    CENSORED,
    CHURNED_BEFORE,
    LABELLED,
    Outcomes,
    derive_outcomes,
    label_snapshots,
    read_outcomes,
    write_outcomes,
)
from vitalsign.demo.world import World
from vitalsign.errors import BacktestError
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.store.schema import canonical_ddl
from vitalsign.store.workspace import Workspace

T = pd.Timestamp("2024-03-01")
END = pd.Timestamp("2024-12-31")


def _outcomes(churns: dict[str, pd.Timestamp], starts: dict[str, pd.Timestamp]) -> Outcomes:
    frame = pd.DataFrame(
        {"account_id": list(churns), "occurred_at": list(churns.values()), "kind": "churned"}
    )
    activity = pd.DataFrame({"account_id": list(starts), "at": list(starts.values())})
    return Outcomes(frame, "test", END, activity)


def _label(churns: dict[str, pd.Timestamp], starts: dict[str, pd.Timestamp] | None = None,
           rows: list[tuple[str, pd.Timestamp]] | None = None) -> pd.DataFrame:  # fmt: skip
    keys = rows or [(a, T) for a in churns]
    frame = pd.DataFrame(keys, columns=["account_id", "as_of"])
    return label_snapshots(frame, _outcomes(churns, starts or {}), 90).set_index("account_id")


def test_a_churn_inside_the_horizon_is_a_positive_and_its_end_is_excluded() -> None:
    day = pd.Timedelta(days=1)
    labels = _label({"at_t": T, "soon": T + 10 * day, "edge": T + 90 * day, "later": T + 91 * day})
    assert labels.loc["at_t", "churned"] and labels.loc["soon", "churned"]
    assert not labels.loc["edge", "churned"]  # [T, T + 90d): the end is outside
    assert not labels.loc["later", "churned"]
    assert (labels["status"] == LABELLED).all()


def test_an_account_that_churned_before_the_snapshot_is_left_out_unless_it_came_back() -> None:
    day = pd.Timedelta(days=1)
    labels = _label(
        {"gone": T - 5 * day, "back": T - 100 * day, "midnight": T},
        starts={"back": T - 30 * day, "gone": T - 400 * day},
    )
    assert labels.loc["gone", "status"] == CHURNED_BEFORE
    assert labels.loc["back", "status"] == LABELLED and not labels.loc["back", "churned"]
    assert labels.loc["midnight", "status"] == LABELLED  # churned at T, not before it


def test_a_snapshot_whose_horizon_passes_the_end_of_the_data_is_censored() -> None:
    late = END - pd.Timedelta(days=30)
    labels = _label({"a": late + pd.Timedelta(days=5)}, rows=[("a", late), ("a", T)])
    assert list(labels["status"]) == [CENSORED, LABELLED]
    assert list(labels["churned"]) == [True, False]


@pytest.mark.parametrize("days_after", [90, 91, 200, 365])
def test_outcomes_after_the_horizon_never_change_a_label(days_after: int) -> None:
    base = _label({"a": T + pd.Timedelta(days=400)})
    moved = _label({"a": T + pd.Timedelta(days=days_after)})
    assert bool(base.loc["a", "churned"]) is bool(moved.loc["a", "churned"]) is False


def test_survival_durations_stop_at_churn_or_at_the_end_of_the_data() -> None:
    labels = _label({"a": T + pd.Timedelta(days=10), "b": END + pd.Timedelta(days=10)})
    assert labels.loc["a", "duration"] == pytest.approx(10.0)
    assert labels.loc["a", "event"]
    assert labels.loc["b", "duration"] == pytest.approx((END - T).days)
    assert not labels.loc["b", "event"]


def _subscriptions(connection: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> None:
    connection.execute(canonical_ddl(CANONICAL_TABLES["subscriptions"]))
    frame = pd.DataFrame(
        rows, columns=["subscription_id", "account_id", "started_at", "ended_at", "status", "mrr"]
    )
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column])
    write_tables(connection, {"subscriptions": frame})


def test_derived_outcomes_follow_the_documented_rules() -> None:
    connection = duckdb.connect()
    _subscriptions(
        connection,
        [
            ("x1", "X", "2024-01-01", "2024-07-01", "expired", 100.0),
            ("x2", "X", "2024-07-01", None, "active", 150.0),  # renewed and expanded
            ("y1", "Y", "2024-01-01", "2024-05-01", "canceled", 100.0),  # churned
            ("z1", "Z", "2024-01-01", None, "active", 100.0),
            ("z2", "Z", "2024-03-01", "2024-06-01", "expired", 50.0),  # add-on, then dropped
            ("w1", "W", "2024-01-01", "2024-03-01", "expired", 80.0),  # a gap of 61 days
            ("w2", "W", "2024-05-01", None, "active", 80.0),
            ("v1", "V", "2024-01-01", "2024-12-20", "expired", 10.0),  # may still renew
        ],
    )
    derived = derive_outcomes(connection, END)
    got = {(r.account_id, str(r.occurred_at.date()), r.kind): (r.arr_before, r.arr_after)
           for r in derived.itertuples()}  # fmt: skip
    assert got == {
        ("X", "2024-07-01", "renewed"): (1200.0, 1800.0),
        ("X", "2024-07-01", "expanded"): (1200.0, 1800.0),
        ("Y", "2024-05-01", "churned"): (1200.0, 0.0),
        ("Z", "2024-03-01", "expanded"): (1200.0, 1800.0),
        ("Z", "2024-06-01", "contracted"): (1800.0, 1200.0),
        ("W", "2024-03-01", "churned"): (960.0, 0.0),
        ("W", "2024-05-01", "reactivated"): (0.0, 960.0),
    }


def test_outcomes_derived_from_the_demo_subscriptions_match_its_true_outcomes(
    demo_world: World,
) -> None:
    connection = duckdb.connect()
    connection.execute(canonical_ddl(CANONICAL_TABLES["subscriptions"]))
    write_tables(connection, {"subscriptions": demo_world.tables["subscriptions"]})
    end = pd.Timestamp(dt.datetime.combine(demo_world.end, dt.time()))
    derived = derive_outcomes(connection, end)
    true = demo_world.tables["outcomes"]
    for kind in ("churned", "renewed", "expanded", "contracted"):
        ours = derived[derived["kind"] == kind][["account_id", "occurred_at"]]
        theirs = true[true["kind"] == kind][["account_id", "occurred_at"]]
        assert set(map(tuple, ours.to_numpy())) == set(map(tuple, theirs.to_numpy())), kind


def test_the_backtest_derives_outcomes_when_the_outcomes_table_is_empty(
    workspace: Workspace,
) -> None:
    with pytest.raises(BacktestError, match="no outcomes"):
        read_outcomes(workspace.duckdb, END)
    accounts = pd.DataFrame(
        {"account_id": ["A"], "name": ["Acme"], "created_at": [T - pd.Timedelta(days=99)],
         "churned_at": [T + pd.Timedelta(days=3)]}
    )  # fmt: skip
    write_tables(workspace.duckdb, {"accounts": accounts})
    assert read_outcomes(workspace.duckdb, END).source == "accounts.churned_at"
    _subscriptions(workspace.duckdb, [("s", "A", "2023-01-01", "2024-03-04", "canceled", 5.0)])
    found = read_outcomes(workspace.duckdb, END)
    assert found.source == "derived from subscriptions"
    assert list(found.churns["account_id"]) == ["A"]


def test_storing_derived_outcomes_twice_adds_nothing_the_second_time(workspace: Workspace) -> None:
    _subscriptions(workspace.duckdb, [("s", "A", "2023-01-01", "2024-03-04", "canceled", 5.0)])
    derived = derive_outcomes(workspace.duckdb, END)
    assert write_outcomes(workspace.duckdb, derived) == 1
    assert write_outcomes(workspace.duckdb, derived) == 0
    assert read_outcomes(workspace.duckdb, END).source == "outcomes table"
