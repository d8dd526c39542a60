"""History: backfill equals date-by-date scoring; re-running a date replaces it atomically."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from vitalsign.engine.run import (
    MAX_BATCH_DATES,
    backfill,
    batch_size_for,
    compute_scores,
    date_range,
    score,
)
from vitalsign.engine.scoring import ScoredFrame
from vitalsign.engine.snapshots import snapshot_dates, write_snapshots
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.store.workspace import Workspace
from world import T


def _count(ws: Workspace, table: str) -> int:
    return int(ws.duckdb.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.parametrize(
    ("accounts", "dates"),
    [
        (0, MAX_BATCH_DATES),
        (30_769, MAX_BATCH_DATES),
        (30_770, 12),
        (100_000, 4),
        (100_001, 3),
        (200_000, 2),
        (200_001, 1),
        (10**8, 1),
    ],
)
def test_backfill_batches_shrink_as_the_portfolio_grows(accounts: int, dates: int) -> None:
    assert batch_size_for(accounts) == dates


def test_a_backfill_gives_the_same_scores_as_scoring_each_date_alone(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    dates = date_range(T - dt.timedelta(days=70), T + dt.timedelta(days=14), 7)
    backfill(tiny_workspace, dates, tiny_model, batch_size=5, show_progress=False)
    stored = tiny_workspace.duckdb.execute(
        "SELECT snapshot_date, account_id, score, base_score, band, coverage FROM scores"
    ).df()
    for day in dates:
        alone = compute_scores(tiny_workspace.backend, tiny_model, [day]).scores
        got = stored[stored["snapshot_date"] == pd.Timestamp(day)].set_index("account_id")
        assert sorted(got.index) == sorted(alone["account_id"])
        for row in alone.itertuples():
            assert got.loc[row.account_id, "band"] == row.band
            assert got.loc[row.account_id, "score"] == pytest.approx(row.score, nan_ok=True)
            assert got.loc[row.account_id, "coverage"] == pytest.approx(row.coverage)


def test_the_starter_model_backfills_like_single_dates(tiny_workspace: Workspace) -> None:
    model = load_model(tiny_workspace.model_path)
    dates = [T - dt.timedelta(days=14), T]
    together = compute_scores(tiny_workspace.backend, model, dates).scores
    for day in dates:
        alone = compute_scores(tiny_workspace.backend, model, [day]).scores.set_index("account_id")
        part = together[together["as_of"] == pd.Timestamp(day)].set_index("account_id")
        pd.testing.assert_series_equal(part["score"].sort_index(), alone["score"].sort_index())


def test_rerunning_a_date_replaces_its_snapshot_without_duplicates(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    score(tiny_workspace, T, tiny_model)
    items = _count(tiny_workspace, "score_items")
    score(tiny_workspace, T, tiny_model)
    assert _count(tiny_workspace, "scores") == 3
    assert _count(tiny_workspace, "score_items") == items
    assert snapshot_dates(tiny_workspace.duckdb, "tiny") == [T]


def test_rescoring_a_date_drops_an_account_no_longer_scored_and_replaces_the_others(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    score(tiny_workspace, T, tiny_model)
    first = tiny_workspace.duckdb.execute("SELECT max(computed_at) FROM scores").fetchone()[0]
    tiny_workspace.duckdb.execute(  # B churned the day before: not active at T any more
        "UPDATE accounts SET churned_at = ? WHERE account_id = 'B'", [T - dt.timedelta(days=1)]
    )
    score(tiny_workspace, T, tiny_model)
    rows = tiny_workspace.duckdb.execute(
        "SELECT account_id, computed_at > ? FROM scores ORDER BY account_id", [first]
    ).fetchall()
    assert rows == [("A", True), ("C", True)]
    items = tiny_workspace.duckdb.execute(
        "SELECT DISTINCT account_id FROM score_items ORDER BY 1"
    ).fetchall()
    assert items == [("A",), ("C",)]


def test_a_crash_while_writing_leaves_the_previous_snapshot_whole(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    score(tiny_workspace, T, tiny_model)
    before = tiny_workspace.duckdb.execute("SELECT * FROM scores ORDER BY account_id").df()
    items = _count(tiny_workspace, "score_items")
    tiny_workspace.duckdb.execute("DELETE FROM invoices")  # now everyone fails the gate
    scored = compute_scores(tiny_workspace.backend, tiny_model, [T])

    def crash() -> None:
        raise KeyboardInterrupt("killed mid-write")

    with pytest.raises(KeyboardInterrupt):
        write_snapshots(tiny_workspace.duckdb, scored, tiny_model, before_commit=crash)
    after = tiny_workspace.duckdb.execute("SELECT * FROM scores ORDER BY account_id").df()
    pd.testing.assert_frame_equal(before, after)
    assert _count(tiny_workspace, "score_items") == items


def test_items_dated_outside_the_scores_are_refused_and_nothing_is_written(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    scored = compute_scores(tiny_workspace.backend, tiny_model, [T])
    shifted = scored.items.assign(as_of=scored.items["as_of"] + pd.Timedelta(days=1))
    with pytest.raises(RuntimeError, match="score_items: 0 of"):
        write_snapshots(tiny_workspace.duckdb, ScoredFrame(scored.scores, shifted), tiny_model)
    assert _count(tiny_workspace, "scores") == 0
    assert _count(tiny_workspace, "score_items") == 0


def test_a_date_range_includes_both_ends_and_refuses_nonsense() -> None:
    days = date_range(dt.date(2024, 1, 1), dt.date(2024, 1, 15), 7)
    assert days == [dt.date(2024, 1, 1), dt.date(2024, 1, 8), dt.date(2024, 1, 15)]
    with pytest.raises(VitalsignError, match="before"):
        date_range(dt.date(2024, 2, 1), dt.date(2024, 1, 1), 7)
