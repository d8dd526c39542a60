"""The one-pass backfill query equals scoring each date alone, for every aggregation."""

from __future__ import annotations

import datetime as dt
import random
import re

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vitalsign.engine.one_pass import OnePassQuery, one_pass_signal_table
from vitalsign.engine.period_grid import geometry, grid_step
from vitalsign.engine.run import backfill, compute_scores
from vitalsign.engine.signals import signal_table
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.workspace import Workspace

LAST = dt.date(2024, 6, 3)
MIDNIGHT = dt.datetime(2024, 6, 3)

# every aggregation the model supports, windows that are not multiples of any step, one
# window shorter than a week, filters and values, and the derived signals that read
# earlier windows (change, trend, baseline)
MODEL = """
name: one_pass
signals:
  logins_10d: {table: events, aggregate: count, filter: "event == 'login'", window: 10d}
  events_45d: {table: events, aggregate: count, window: 45d}
  events_3d: {table: events, aggregate: count, window: 3d}
  users_30d: {table: events, aggregate: count_distinct, column: user_id, window: 30d}
  quantity_30d: {table: events, aggregate: sum, column: quantity, window: 30d}
  double_quantity_9d: {table: events, aggregate: sum, value: "quantity * 2", window: 9d}
  mean_quantity_20d: {table: events, aggregate: mean, column: quantity, window: 20d}
  min_quantity_16d: {table: events, aggregate: min, column: quantity, window: 16d}
  max_export_60d:
    {table: events, aggregate: max, column: quantity, filter: "event == 'export'", window: 60d}
  p90_quantity_30d: {table: events, aggregate: percentile, column: quantity, q: 0.9, window: 30d}
  last_feature_12d: {table: events, aggregate: latest, column: feature, window: 12d}
  last_quantity_5d: {table: events, aggregate: latest, column: quantity, window: 5d}
  days_since_login:
    {table: events, aggregate: days_since_last, filter: "event == 'login'", window: 40d}
  first_export: {table: events, aggregate: time_to_first, filter: "event == 'export'"}
  logins_change: {change: logins_10d}
  logins_trend: {trend: logins_10d, windows: 3}
  quantity_baseline: {baseline: quantity_30d, windows: 2}
  tickets_25d: {table: tickets, aggregate: count, window: 25d}
  satisfaction_50d: {table: tickets, aggregate: mean, column: satisfaction, window: 50d}
  worst_satisfaction_11d: {table: tickets, aggregate: min, column: satisfaction, window: 11d}
  last_priority_19d: {table: tickets, aggregate: latest, column: priority, window: 19d}
  days_since_ticket: {table: tickets, aggregate: days_since_last, window: 33d}
  satisfaction_sum_8d: {table: tickets, aggregate: sum, column: satisfaction, window: 8d}
  seats: {attribute: seats, scale: {type: linear, low: 0, high: 10}}
scorecards:
  default:
    g: {signals: {seats: 1}}
bands: [{name: ok, min: 50}, {name: bad, min: 0}]
"""

FEATURES = ["dashboards", "reports", "exports", None]
EVENTS = ["login", "export", "page_view"]


def _model() -> LoadedModel:
    return parse_model(MODEL, "<one-pass test model>")


def _load(ws: Workspace, seed: int, rows: int) -> None:
    """A random world: 6 accounts, events and tickets (some deleted) over 200 days."""
    rng = random.Random(seed)
    con = ws.duckdb
    for table in ("events", "tickets", "accounts"):
        con.execute(f"DELETE FROM {table}")
    accounts = [f"acct-{i}" for i in range(6)]
    con.executemany(
        "INSERT INTO accounts (account_id, name, created_at, seats) VALUES (?, ?, ?, ?)",
        [(a, a, MIDNIGHT - dt.timedelta(days=300 - 20 * i), 5) for i, a in enumerate(accounts)],
    )

    used: set[dt.datetime] = set()

    def moment() -> dt.datetime:
        """Whole days (window edges) or any microsecond; unique, so `latest` has no ties."""
        days = rng.choice([rng.randint(0, 200), rng.uniform(0, 200)])
        at = MIDNIGHT - dt.timedelta(days=days) + dt.timedelta(days=rng.choice([0, 0, 30]))
        while at in used:
            at += dt.timedelta(microseconds=1)
        used.add(at)
        return at

    events = []
    for i in range(rows):
        quantity = rng.choice([None, round(rng.uniform(0, 100), 3), float(rng.randint(1, 9))])
        events.append(
            (
                f"e{i}",
                rng.choice(accounts[:5]),  # one account without events
                moment(),
                rng.choice(EVENTS),
                f"u{rng.randint(0, 6)}",
                rng.choice(FEATURES),
                quantity,
            )
        )
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
    tickets = []
    for i in range(rows // 3):
        created = moment()
        deleted = created + dt.timedelta(days=rng.uniform(1, 60)) if rng.random() < 0.3 else None
        satisfaction = rng.choice([None, float(rng.randint(1, 5))])
        priority = rng.choice(["low", "high", None])
        tickets.append((f"t{i}", rng.choice(accounts), created, priority, satisfaction, deleted))
    con.executemany(
        "INSERT INTO tickets (ticket_id, account_id, created_at, priority, satisfaction, "
        "deleted_at) VALUES (?, ?, ?, ?, ?, ?)",
        tickets,
    )


def _alone(ws: Workspace, model: LoadedModel, dates: list[dt.date]) -> pd.DataFrame:
    frames = [signal_table(ws.backend, model.spec, [d]).execute() for d in dates]
    return _sorted(pd.concat(frames, ignore_index=True))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(as_of=pd.to_datetime(frame["as_of"]))
    return frame.sort_values(["as_of", "account_id"]).reset_index(drop=True)


def assert_equal_frames(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same rows, same columns; numbers within rtol 1e-9, everything else equal."""
    assert list(got["account_id"]) == list(expected["account_id"])
    assert list(got["as_of"]) == list(expected["as_of"])
    for column in expected.columns:
        a, b = got[column], expected[column]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
            a, b = a.astype("float64").to_numpy(), b.astype("float64").to_numpy()
            assert np.array_equal(np.isnan(a), np.isnan(b)), column
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=0, equal_nan=True, err_msg=column)
        else:
            assert [None if pd.isna(x) else x for x in a] == [
                None if pd.isna(x) else x for x in b
            ], column


def test_geometry_cuts_a_window_into_pieces_and_whole_periods() -> None:
    assert geometry(0, 14, 7) == geometry(0, 14, 7)
    assert geometry(0, 14, 7).pieces == () and geometry(0, 14, 7).frame == (2, 1)
    # 30 days before a weekly date: weeks 1..4 before it and the last 2 days of week 5
    assert geometry(0, 30, 7).pieces == ((5, 5, 7),) and geometry(0, 30, 7).frame == (4, 1)
    # a 3-day window ending 2 days back: one slice of the week before
    assert geometry(2, 3, 7).pieces == ((1, 2, 5),) and geometry(2, 3, 7).frame is None
    assert grid_step([dt.date(2024, 1, 1), dt.date(2024, 1, 7), dt.date(2024, 1, 16)]) == 3


@pytest.mark.parametrize(
    "gaps",
    [
        [7] * 9,  # weekly
        [3, 7, 11, 1, 30],  # uneven
        [14, 14, 28],  # a step longer than some windows
        [1],  # two days
    ],
    ids=["weekly", "uneven", "fortnightly", "two-days"],
)
def test_the_one_pass_table_equals_each_date_scored_alone(
    workspace: Workspace, gaps: list[int]
) -> None:
    model = _model()
    _load(workspace, seed=len(gaps), rows=1500)
    dates = [LAST]
    for gap in reversed(gaps):
        dates.insert(0, dates[0] - dt.timedelta(days=gap))
    query = OnePassQuery(workspace.backend, model.spec, dates)
    assert query.step == grid_step(dates)
    got = _sorted(query.build().execute())
    assert_equal_frames(got, _alone(workspace, model, dates))


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    gaps=st.lists(st.sampled_from([1, 2, 5, 7, 7, 7, 10]), min_size=1, max_size=5),
)
def test_any_dates_give_the_values_of_each_date_alone(
    workspace: Workspace, seed: int, gaps: list[int]
) -> None:
    model = _model()
    _load(workspace, seed=seed, rows=300)
    dates = [LAST - dt.timedelta(days=sum(gaps[i:])) for i in range(len(gaps))] + [LAST]
    got = _sorted(one_pass_signal_table(workspace.backend, model.spec, dates).execute())
    assert_equal_frames(got, _alone(workspace, model, dates))


def test_events_are_grouped_once_not_joined_to_the_dates(workspace: Workspace) -> None:
    text = "\n".join(line for line in MODEL.splitlines() if "percentile" not in line)
    model = parse_model(text, "<without percentile>")
    dates = [LAST - dt.timedelta(weeks=k) for k in range(8)]
    joined_to_dates = re.compile(r'"timestamp" < "t\d+"\."as_of"')
    old = str(ibis.to_sql(signal_table(workspace.backend, model.spec, dates)))
    new = str(ibis.to_sql(one_pass_signal_table(workspace.backend, model.spec, dates)))
    assert joined_to_dates.search(old)  # each event copied to every date whose window holds it
    assert not joined_to_dates.search(new) and "OVER (" in new


def test_sparse_tables_join_their_period_partials_to_the_dates_without_a_grid(
    workspace: Workspace,
) -> None:
    signals = MODEL.split("  tickets_25d:")[1].split("scorecards:")[0]
    model = parse_model(
        "name: tickets_only\nsignals:\n  tickets_25d:" + signals + MODEL.split(signals)[1],
        "<tickets only>",
    )
    dates = [LAST - dt.timedelta(weeks=k) for k in range(8)]
    sql = str(ibis.to_sql(one_pass_signal_table(workspace.backend, model.spec, dates)))
    assert "OVER (" not in sql  # no account x period grid read by window functions
    assert re.search(r'"p__" >= \(\s*"t\d+"\."d__" - 8', sql)  # partials joined by lag


def _stored(ws: Workspace) -> pd.DataFrame:
    return ws.duckdb.execute(
        "SELECT snapshot_date, account_id, score, band, coverage, computed_at FROM scores "
        "ORDER BY snapshot_date, account_id"
    ).df()


def test_a_backfill_stores_what_scoring_each_date_alone_stores(workspace: Workspace) -> None:
    model = _model()
    _load(workspace, seed=3, rows=600)
    dates = [LAST - dt.timedelta(weeks=k) for k in range(5, -1, -1)]
    assert backfill(workspace, dates, model, batch_size=4, show_progress=False) == dates
    stored = _stored(workspace)
    for day in dates:
        alone = compute_scores(workspace.backend, model, [day]).scores.sort_values("account_id")
        got = stored[stored["snapshot_date"] == pd.Timestamp(day)]
        assert list(got["account_id"]) == list(alone["account_id"])
        np.testing.assert_allclose(got["score"], alone["score"], rtol=1e-9)
        assert list(got["band"]) == list(alone["band"])


def test_extending_a_history_scores_only_the_new_date(workspace: Workspace) -> None:
    model = _model()
    _load(workspace, seed=4, rows=600)
    history = [LAST - dt.timedelta(weeks=k) for k in range(6, 0, -1)]
    backfill(workspace, history, model, show_progress=False)
    before = _stored(workspace)
    week_later = [*history, LAST]
    assert backfill(workspace, week_later, model, show_progress=False, new_only=True) == [LAST]
    after = _stored(workspace)
    kept = after[after["snapshot_date"] < pd.Timestamp(LAST)].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before)  # computed_at too: not scored again
    assert set(after["snapshot_date"]) == {pd.Timestamp(d) for d in week_later}
    # the same week again: nothing new to score
    assert backfill(workspace, week_later, model, show_progress=False, new_only=True) == []
    # a changed model is a new version: its history is scored in full
    edited = parse_model(MODEL.replace("min: 50", "min: 55"), "<edited bands>")
    assert edited.hash != model.hash
    assert backfill(workspace, week_later, edited, show_progress=False, new_only=True) == (
        week_later
    )


def test_the_cli_extends_a_history_with_new_only(tiny_workspace: Workspace) -> None:
    from typer.testing import CliRunner

    from vitalsign.cli import app

    root = str(tiny_workspace.root)
    tiny_workspace.close()  # the CLI opens the workspace itself
    runner = CliRunner()
    first = ["backfill", "--from", "2024-01-01", "--to", "2024-02-19", "-w", root]
    assert "Stored 8 snapshots" in runner.invoke(app, first, catch_exceptions=False).output
    later = ["backfill", "--from", "2024-01-01", "--to", "2024-02-26", "-w", root, "--new-only"]
    result = runner.invoke(app, later, catch_exceptions=False)
    assert "Stored 1 snapshots from 2024-02-26 to 2024-02-26" in result.output
    again = runner.invoke(app, later, catch_exceptions=False).output
    assert "Nothing to score: every date has a snapshot" in again


@pytest.mark.parametrize("engine", ["postgres", pytest.param("spark", marks=pytest.mark.spark)])
def test_the_one_pass_table_is_the_same_on_every_engine(
    request: pytest.FixtureRequest, workspace: Workspace, engine: str
) -> None:
    from engine_worlds import arrow_tables, postgres_backend, spark_backend

    model = _model()
    _load(workspace, seed=11, rows=500)
    dates = [LAST - dt.timedelta(weeks=k) for k in range(4, -1, -1)]
    dates.insert(1, dates[0] + dt.timedelta(days=3))  # uneven: a grid of one day
    tables = arrow_tables(workspace)
    if engine == "spark":
        backend = spark_backend(request.getfixturevalue("spark"), tables, "arrow")
    else:
        url = request.getfixturevalue("engine_postgres_url")
        backend = postgres_backend(url, "one_pass", tables, "arrow")
    for chosen in (dates, dates[2:]):  # uneven, then weekly
        got = _sorted(one_pass_signal_table(backend, model.spec, chosen).execute())
        assert_equal_frames(got, _alone(workspace, model, chosen))


def _signal_tables(ws: Workspace) -> list[str]:
    found = ws.duckdb.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'vitalsign_signals_%'"
    ).fetchall()
    return [row[0] for row in found]


def test_a_backfill_too_big_for_one_pass_runs_it_in_account_shards(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitalsign.engine import backfill as backfill_module

    model = _model()
    _load(workspace, seed=5, rows=400)
    dates = [LAST - dt.timedelta(weeks=k) for k in range(3, -1, -1)]
    rows = backfill_module.grid_rows(model, dates, 6)
    assert rows == 6 * ((21 + 90) // 7 + 2)  # the furthest back: 2 baseline windows of 30d
    whole = one_pass_signal_table(workspace.backend, model.spec, dates)
    expected = _sorted(whole.filter(whole.as_of.isin([MIDNIGHT])).execute())
    monkeypatch.setattr(backfill_module, "MAX_GRID_ROWS", rows // 3)  # 3 shards of 2 accounts
    assert backfill_module.shard_bounds(workspace.backend, 3) == [None, "acct-2", "acct-4", None]
    with backfill_module.shared_signals(workspace.backend, model, dates, 6) as signals:
        table = signals([LAST])
        assert table is not None
        kept = _signal_tables(workspace)
        assert len(kept) == 1  # the shards went into one temporary table
        assert_equal_frames(_sorted(table.execute()), expected)
    assert not _signal_tables(workspace)  # dropped at the end
    assert backfill(workspace, dates, model, batch_size=2, show_progress=False) == dates
    stored = _stored(workspace)  # the last date's snapshot, from the sharded table
    alone = compute_scores(workspace.backend, model, [LAST]).scores.sort_values("account_id")
    got = stored[stored["snapshot_date"] == pd.Timestamp(LAST)]
    np.testing.assert_allclose(got["score"], alone["score"], rtol=1e-9)


@pytest.mark.spark
def test_the_kept_one_pass_table_is_read_back_by_batches_on_spark(
    spark: object, workspace: Workspace
) -> None:
    import gc

    from engine_worlds import arrow_tables, spark_backend

    from vitalsign.engine.backfill import shared_signals

    model = _model()
    _load(workspace, seed=2, rows=300)
    dates = [LAST - dt.timedelta(weeks=k) for k in range(3, -1, -1)]
    backend = spark_backend(spark, arrow_tables(workspace), "arrow")
    with shared_signals(backend, model, dates) as signals:
        for batch in (dates[:2], dates[2:]):  # the dates' memtable is gone by the second
            table = signals(batch)
            assert table is not None
            gc.collect()
            assert_equal_frames(_sorted(table.execute()), _alone(workspace, model, batch))
