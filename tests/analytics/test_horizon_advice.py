"""Too-recent outcomes name the --horizon, --until or dates that work; the window's end is told."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pandas as pd
import pytest

from vitalsign.analytics.backtest import evaluate_history
from vitalsign.analytics.calibrate import calibrate
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.horizon import boundary_churns, too_recent_fix
from vitalsign.analytics.outcomes import Outcomes, label_snapshots, read_outcomes
from vitalsign.errors import BacktestError
from vitalsign.store.workspace import Workspace


@pytest.fixture(scope="module")
def history(demo_workspace: Workspace) -> History:
    """The starter model's stored history of the demo world."""
    return read_history(demo_workspace.duckdb, demo_workspace.load_model())


def _ending(outcomes: Outcomes, end: dt.date) -> Outcomes:
    """The outcomes as they were known at `end` (nothing after it)."""
    stop = pd.Timestamp(end)
    frame = outcomes.frame[pd.to_datetime(outcomes.frame["occurred_at"]) <= stop]
    return dataclasses.replace(outcomes, frame=frame, observed_until=stop)


def test_too_recent_outcomes_name_a_horizon_and_an_until_that_work(
    demo_workspace: Workspace, history: History
) -> None:
    first = history.dates[0]
    known = read_outcomes(demo_workspace.duckdb)
    early = _ending(known, first + dt.timedelta(days=60))
    with pytest.raises(BacktestError) as caught:
        evaluate_history(history, early, 90, replicates=0, leak_dates=0)
    message = str(caught.value)
    assert f"The data ends {first + dt.timedelta(days=60)}" in message
    horizon = re.search(r"--horizon (\d+)d or shorter", message)
    until = re.search(r"--until (\d{4}-\d\d-\d\d) or later", message)
    assert horizon and until, message
    assert int(horizon.group(1)) == 60
    assert dt.date.fromisoformat(until.group(1)) == first + dt.timedelta(days=90)
    # each suggestion, followed, gives a backtest
    shorter = evaluate_history(history, early, int(horizon.group(1)), replicates=0, leak_dates=0)
    assert shorter.counts["evaluated"] > 0 and shorter.dates[0] == first
    later = _ending(known, dt.date.fromisoformat(until.group(1)))
    assert evaluate_history(history, later, 90, replicates=0, leak_dates=0).counts["evaluated"] > 0


def test_calibrate_gives_the_same_advice(demo_workspace: Workspace, tmp_path: object) -> None:
    first = read_history(demo_workspace.duckdb, demo_workspace.load_model()).dates[0]
    until = dt.datetime.combine(first + dt.timedelta(days=30), dt.time())
    with pytest.raises(BacktestError, match=r"--horizon 30d or shorter.*--until"):
        calibrate(demo_workspace, until=until, replicates=0, output=None, today=first)


def test_advice_without_snapshots_names_the_latest_date_to_score() -> None:
    text = too_recent_fix([], pd.Timestamp("2024-01-31"), 90)
    assert "on or before 2023-11-02" in text and "2024-01-31" in text


def test_a_churn_exactly_at_t_plus_horizon_is_outside_the_window_and_reported(
    demo_workspace: Workspace, history: History
) -> None:
    known = read_outcomes(demo_workspace.duckdb)
    first = history.dates[0]
    scored = history.scores[
        (history.scores["as_of"] == pd.Timestamp(first))
        & (history.scores["computed_band"] != history.model.spec.insufficient_band)
    ]
    churned = set(known.churns["account_id"])
    calm = [a for a in scored["account_id"] if a not in churned][:25]
    edge = pd.Timestamp(first) + pd.Timedelta(days=90)
    extra = pd.DataFrame({"account_id": calm, "occurred_at": edge, "kind": "churned"})
    outcomes = dataclasses.replace(known, frame=pd.concat([known.frame, extra], ignore_index=True))
    labelled = label_snapshots(scored, outcomes, 90)
    on_edge = labelled[labelled["account_id"].isin(calm)]
    assert not on_edge["churned"].any()  # [T, T + H): the end is excluded
    assert label_snapshots(scored, outcomes, 91).set_index("account_id").loc[calm, "churned"].all()
    assert boundary_churns(labelled, 90) == 25
    report = evaluate_history(history, outcomes, 90, replicates=0, leak_dates=0)
    note = next(n for n in report.notes if "exactly 90 days" in n)
    assert note.startswith("25 labelled rows") and "--horizon 91d" in note
    assert report.to_dict()["window"] == "[T, T + 90 days)"


def test_an_until_in_the_future_is_not_offered_and_late_snapshots_are_named() -> None:
    end = pd.Timestamp("2025-11-30")
    text = too_recent_fix([dt.date(2025, 12, 1)], end, 90, today=dt.date(2025, 12, 3))
    assert "--until" not in text  # the CLI refuses a date after today
    assert "every snapshot is dated after the data's end" in text
    assert "on or before 2025-09-01" in text
    offered = too_recent_fix([dt.date(2025, 12, 1)], end, 90, today=dt.date(2026, 6, 1))
    assert "--until 2026-03-01 or later" in offered
