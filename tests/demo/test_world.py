"""The demo world is deterministic, consistent, and its churn has visible causes."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from vitalsign.demo.world import World, generate_world, write_world
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.store.schema import all_ddl

ACCOUNTS = 200
DTYPES = {
    "int": ("int64", "Int64"),
    "float": ("float64",),
    "bool": ("bool", "boolean"),
    "timestamp": ("datetime64[ns]", "datetime64[us]"),
}


@pytest.fixture(scope="module")
def world() -> World:
    """A small world shared by the tests of this module."""
    return generate_world(accounts=ACCOUNTS, seed=11)


def _timestamps(world: World) -> list[tuple[str, str]]:
    return [
        (table.name, column.name)
        for table in CANONICAL_TABLES.values()
        for column in table.columns
        if column.type == "timestamp"
    ]


def _in_window(frame: pd.DataFrame, column: str, days: int) -> pd.DataFrame:
    """Rows of `frame` whose `column` falls in the `days` days before its row's `anchor`."""
    window = frame["anchor"] - pd.Timedelta(days=days)
    return frame[(frame[column] < frame["anchor"]) & (frame[column] >= window)]


def _per_account(frame: pd.DataFrame, anchors: pd.DataFrame, column: str, days: int) -> pd.Series:
    """Rows per account in the `days` days before each account's anchor (0 when none)."""
    rows = _in_window(frame.merge(anchors, on="account_id"), column, days)
    return rows.groupby("account_id").size().reindex(anchors["account_id"], fill_value=0)


def _anchors(world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Churn dates of churners, and a renewal date of each renewer, with 180 days of history."""
    earliest = pd.Timestamp(world.start) + pd.Timedelta(days=180)
    accounts, outcomes = world.tables["accounts"], world.tables["outcomes"]
    churned = accounts[accounts["churned_at"] >= earliest]
    churners = churned[["account_id", "churned_at"]].set_axis(["account_id", "anchor"], axis=1)
    renewed = outcomes[(outcomes["kind"] == "renewed") & (outcomes["occurred_at"] >= earliest)]
    renewers = (
        renewed[["account_id", "occurred_at"]]
        .set_axis(["account_id", "anchor"], axis=1)
        .drop_duplicates("account_id")
    )
    return churners, renewers


def test_the_same_seed_gives_the_same_world(world: World) -> None:
    again = generate_world(accounts=ACCOUNTS, seed=11)
    assert (again.start, again.end) == (world.start, world.end)
    for name, frame in world.tables.items():
        pd.testing.assert_frame_equal(again.tables[name], frame)


def test_another_seed_gives_another_world(world: World) -> None:
    other = generate_world(accounts=ACCOUNTS, seed=12)
    assert not other.tables["accounts"].equals(world.tables["accounts"])
    assert len(other.tables["events"]) != len(world.tables["events"])


def test_the_window_covers_the_requested_years_before_the_end() -> None:
    small = generate_world(accounts=20, seed=1, end=dt.date(2025, 6, 1), years=1)
    assert (small.start, small.end) == (dt.date(2024, 6, 1), dt.date(2025, 6, 1))


def test_every_table_has_the_canonical_columns_in_order_with_their_types(world: World) -> None:
    assert list(world.tables) == list(CANONICAL_TABLES)
    for name, table in CANONICAL_TABLES.items():
        frame = world.tables[name]
        assert list(frame.columns) == table.column_names, name
        assert len(frame) > 0, name
        for column in table.columns:
            dtype = str(frame[column.name].dtype)
            if column.type in DTYPES:
                assert dtype in DTYPES[column.type], (name, column.name, dtype)
            elif column.type == "date":
                values = frame[column.name].dropna()
                assert all(type(v) is dt.date for v in values), (name, column.name)
            else:
                strings = frame[column.name].dropna()
                assert all(isinstance(v, str) for v in strings), (name, column.name)


def test_keys_are_unique(world: World) -> None:
    for name, table in CANONICAL_TABLES.items():
        frame = world.tables[name]
        assert not frame.duplicated(list(table.key)).any(), name
    assert not world.tables["events"]["event_id"].duplicated().any()


def test_every_reference_points_at_an_existing_row(world: World) -> None:
    accounts = set(world.tables["accounts"]["account_id"])
    for name, frame in world.tables.items():
        if "account_id" in frame:  # owners belong to no account
            assert set(frame["account_id"]) <= accounts, name
    users = world.tables["users"].set_index("user_id")["account_id"]
    for name in ("events", "surveys"):
        frame = world.tables[name].dropna(subset=["user_id"])
        assert (users.loc[frame["user_id"]].to_numpy() == frame["account_id"].to_numpy()).all()


def test_required_columns_are_never_null(world: World) -> None:
    for name, table in CANONICAL_TABLES.items():
        for column in table.columns:
            if column.required:
                assert world.tables[name][column.name].notna().all(), (name, column.name)


def test_no_timestamp_is_at_or_after_the_end(world: World) -> None:
    end = pd.Timestamp(world.end)
    for name, column in _timestamps(world):
        assert (world.tables[name][column].dropna() < end).all(), (name, column)
    start = pd.Timestamp(world.start)
    assert (world.tables["events"]["timestamp"] >= start).all()
    assert (world.tables["accounts"]["created_at"] < start).any()


def test_nothing_happens_after_an_account_churned(world: World) -> None:
    churned_at = world.tables["accounts"].set_index("account_id")["churned_at"]
    assert churned_at.notna().any()
    for name, column in (
        ("events", "timestamp"),
        ("tickets", "created_at"),
        ("invoices", "issued_at"),
    ):
        frame = world.tables[name]
        limit = churned_at.loc[frame["account_id"]].to_numpy()
        late = pd.notna(limit) & (frame[column].to_numpy() >= limit)
        assert not late.any(), name


def test_users_act_only_while_they_and_their_account_exist(world: World) -> None:
    users = world.tables["users"].set_index("user_id")
    created = world.tables["accounts"].set_index("account_id")["created_at"]
    events = world.tables["events"]
    user = users.loc[events["user_id"]]
    stamp = events["timestamp"].to_numpy()
    assert (stamp > user["created_at"].to_numpy()).all()
    assert not (stamp >= user["left_at"].to_numpy()).any()
    assert (stamp > created.loc[events["account_id"]].to_numpy()).all()


def test_every_account_has_a_champion_and_an_executive_sponsor(world: World) -> None:
    users = world.tables["users"]
    assert users.groupby("account_id")["is_champion"].sum().eq(1).all()
    assert users.groupby("account_id")["is_exec_sponsor"].sum().eq(1).all()
    assert users["account_id"].nunique() == ACCOUNTS


def test_segments_differ_in_size_and_arr(world: World) -> None:
    accounts = world.tables["accounts"]
    arr = accounts.groupby("segment")["arr"].median()
    assert set(arr.index) == {"smb", "mid-market", "enterprise"}
    assert arr["smb"] < arr["mid-market"] < arr["enterprise"]


def test_annual_churn_is_realistic(world: World) -> None:
    accounts = world.tables["accounts"]
    start, end = pd.Timestamp(world.start), pd.Timestamp(world.end)
    began = accounts["created_at"].where(accounts["created_at"] > start, start)
    years = (accounts["churned_at"].fillna(end) - began).dt.days.sum() / 365
    rate = accounts["churned_at"].notna().sum() / years
    assert 0.05 < rate < 0.25
    churns = world.tables["outcomes"].query("kind == 'churned'")
    assert set(churns["account_id"]) == set(accounts.dropna(subset=["churned_at"])["account_id"])


def test_churners_log_in_less_before_churning_than_renewers_before_renewing(world: World) -> None:
    churners, renewers = _anchors(world)
    logins = world.tables["events"].query("event == 'login'")
    assert len(churners) >= 10
    churner_logins = _per_account(logins, churners, "timestamp", 60)
    renewer_logins = _per_account(logins, renewers, "timestamp", 60)
    assert churner_logins.mean() < renewer_logins.mean()
    earlier = churners.assign(anchor=churners["anchor"] - pd.Timedelta(days=120))
    assert churner_logins.sum() < _per_account(logins, earlier, "timestamp", 60).sum()


def test_churners_show_warning_signs_before_churning(world: World) -> None:
    churners, renewers = _anchors(world)
    tables = world.tables
    urgent = tables["tickets"].query("priority in ('high', 'urgent')")
    failed = tables["invoices"].query("status == 'failed'")
    champions = tables["business_events"].query("kind == 'champion_left'")
    nps = tables["surveys"].query("kind == 'nps'")

    def signs(anchors: pd.DataFrame) -> tuple[float, float, float, float]:
        scores = _in_window(nps.merge(anchors, on="account_id"), "responded_at", 150)["score"]
        return (
            _per_account(urgent, anchors, "created_at", 90).mean(),
            (_per_account(failed, anchors, "issued_at", 120) > 0).mean(),
            (_per_account(champions, anchors, "occurred_at", 150) > 0).mean(),
            -scores.mean(),
        )

    for churner, renewer in zip(signs(churners), signs(renewers), strict=True):
        assert churner > renewer


def test_write_world_loads_every_table_into_the_workspace_schema(world: World) -> None:
    connection = duckdb.connect()
    for statement in all_ddl():
        connection.execute(statement)
    loaded: list[str] = []
    counts = write_world(world, connection, on_table=loaded.append)
    assert loaded == list(CANONICAL_TABLES)
    for name, frame in world.tables.items():
        assert counts[name] == len(frame)
        assert connection.execute(f"SELECT count(*) FROM {name}").fetchone() == (len(frame),)
    renewal = connection.execute("SELECT min(renewal_date) FROM accounts").fetchone()
    assert renewal is not None and isinstance(renewal[0], dt.date)
    connection.close()
