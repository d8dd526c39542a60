"""Errors and warnings that lead to the fix (issue 15, bullet 6; the new-user trial's findings)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.calibrate import calibrate
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.outcomes import read_outcomes
from vitalsign.analytics.time_split import (
    MIN_DATES_OUT_OF_TIME,
    labelled_dates,
    out_of_time_fix,
    splits,
)
from vitalsign.errors import BacktestError
from vitalsign.store.workspace import Workspace

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(scope="module")
def history(demo_workspace: Workspace) -> History:
    """The starter model's stored history of the demo world."""
    return read_history(demo_workspace.duckdb, demo_workspace.load_model())


def _too_long(history: History, end: pd.Timestamp) -> int:
    """A horizon that labels five or more dates but leaves no out-of-time split."""
    return (end - pd.Timestamp(history.dates[4])).days - 1


def test_calibrate_names_horizons_that_work_and_each_does(
    demo_workspace: Workspace, history: History, tmp_path: Path
) -> None:
    end = read_outcomes(demo_workspace.duckdb).observed_until
    horizon = _too_long(history, end)
    with pytest.raises(BacktestError) as caught:
        calibrate(demo_workspace, horizon_days=horizon, replicates=0, output=None)
    message = str(caught.value)
    assert f"the data ends {end:%Y-%m-%d}" in message
    longest = re.search(r"--horizon (\d+)d or shorter \(tested out of time", message)
    folds = re.search(r"--horizon (\d+)d to (\d+)d, which leaves fewer than", message)
    assert longest and folds, message
    # the boundaries are exact: one day longer fails (the property test below checks that the
    # suggested values themselves split); the account-fold horizon, followed, calibrates
    with pytest.raises(BacktestError, match="too short to train on earlier"):
        calibrate(demo_workspace, horizon_days=int(longest.group(1)) + 1, replicates=0)
    by_account = calibrate(
        demo_workspace,
        horizon_days=int(folds.group(1)),
        replicates=0,
        output=tmp_path / "p.yml",
        holdout_share=0.05,
    )
    assert by_account.validation.mode == "cross-validation by account"
    held = by_account.validation.protocol.notes
    note = next(n for n in held if n.startswith("held-out accounts"))
    assert "rows on the labelled snapshot dates" in note and "hold out a larger share" in note
    with pytest.raises(BacktestError, match="too short to train on earlier"):
        calibrate(demo_workspace, horizon_days=int(folds.group(1)) - 1, replicates=0)


weekly = st.builds(
    lambda start, count, step, tail: (
        [dt.date(2024, 1, 1) + dt.timedelta(days=start + i * step) for i in range(count)],
        pd.Timestamp(dt.date(2024, 1, 1) + dt.timedelta(days=start + (count - 1) * step + tail))
        + pd.Timedelta(hours=23),
    ),
    st.integers(0, 30),
    st.integers(2, 40),
    st.sampled_from([1, 7, 21]),
    st.integers(0, 200),
)


@settings(max_examples=60, deadline=None)
@given(weekly, st.integers(20, 400), st.sampled_from([0.33, 0.1, 0.5]))
def test_every_suggested_horizon_is_the_boundary_of_what_works(
    snapshots: tuple[list[dt.date], pd.Timestamp], horizon: int, share: float
) -> None:
    dates, end = snapshots
    labelled = labelled_dates(dates, end, horizon)
    if len(labelled) < MIN_DATES_OUT_OF_TIME or splits(labelled, horizon, share, None):
        return  # calibrate would not fail: nothing to advise
    text = out_of_time_fix(dates, end, horizon, share, None)

    def works(h: int, s: float) -> bool:
        found = labelled_dates(dates, end, h)
        return len(found) >= MIN_DATES_OUT_OF_TIME and splits(found, h, s, None)

    def by_account(h: int) -> bool:
        return 1 <= len(labelled_dates(dates, end, h)) < MIN_DATES_OUT_OF_TIME

    if single := re.search(r"a single test date works \(--test-share ([\d.]+)", text):
        assert works(horizon, float(single.group(1)))
        return
    for found in re.finditer(r"--horizon (\d+)d or shorter \(tested out of time", text):
        assert works(int(found.group(1)), share) and not works(int(found.group(1)) + 1, share)
    for found in re.finditer(
        r"--horizon (\d+)d or shorter with one test date \(--test-share ([\d.]+)", text
    ):
        h, s = int(found.group(1)), float(found.group(2))
        assert works(h, s) and not any(works(k, 0.0) for k in range(h + 1, horizon + 1))
    for found in re.finditer(r"--horizon (\d+)d to (\d+)d, which leaves", text):
        low, high = int(found.group(1)), int(found.group(2))
        assert by_account(low) and by_account(high) and not by_account(high + 1)
        assert low == horizon + 1 or not by_account(low - 1)
    if "lowering --test-share does not help" in text:
        assert not works(horizon, 0.0)


def test_an_until_after_the_data_s_end_is_warned_with_the_rows_it_labels(
    demo_workspace: Workspace, history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    from vitalsign.analytics.backtest import evaluate_history
    from vitalsign.analytics.cli_options import print_data_end

    detected = read_outcomes(demo_workspace.duckdb).observed_until
    later = (detected + pd.Timedelta(days=120)).normalize()
    outcomes = read_outcomes(demo_workspace.duckdb, later)
    assert outcomes.detected_until == detected
    report = evaluate_history(history, outcomes, 90, replicates=0, leak_dates=0)
    note = next(n for n in report.notes if "detected end" in n)
    past = sum(
        pd.Timestamp(t) + pd.Timedelta(days=90) > detected
        for t in report.by_date["as_of"].repeat(report.by_date["rows"])
    )
    assert past > 0 and note.startswith(f"{past} of the {report.counts['evaluated']} labelled")
    assert f"detected end, {detected:%Y-%m-%d}" in note and "really runs that long" in note
    at_end = read_outcomes(demo_workspace.duckdb, detected.normalize() + pd.Timedelta(days=1))
    quiet = evaluate_history(history, at_end, 90, replicates=0, leak_dates=0)
    assert not any("detected end" in n for n in quiet.notes)
    print_data_end(demo_workspace.duckdb, f"{later:%Y-%m-%d}", quiet=True)
    warned = capsys.readouterr().err
    assert "Warning:" in warned and f"--until {later:%Y-%m-%d} is 120 days after" in warned
    print_data_end(demo_workspace.duckdb, None, quiet=True)
    assert "is 120 days after" not in capsys.readouterr().err


def test_saas_churn_loads_from_the_package_and_its_documented_until_works(tmp_path: Path) -> None:
    from vitalsign.analytics.backtest import run_backtest
    from vitalsign.analytics.datasets import load_ravenstack, load_saas_churn
    from vitalsign.engine.run import score
    from vitalsign.store.data_end import data_end
    from vitalsign.store.workspace import init_workspace

    assert callable(load_ravenstack)
    workspace = init_workspace(tmp_path / "sc")
    info = load_saas_churn(workspace, FIXTURES / "saas_churn" / "churn.csv")
    docs = (Path(__file__).parents[2] / "docs" / "backtest.md").read_text()
    assert f"--horizon {info.horizon_days}d --until {info.observed_until:%Y-%m-%d}" in docs
    found = data_end(workspace.duckdb)
    events_end = found.newest["events"]
    assert events_end.date() < info.snapshot  # a one-time export before the snapshot
    assert found.warning is not None and "pass the true end" not in found.warning
    assert f"keep {found.at:%Y-%m-%d}" in found.warning and "one-time export" in found.warning
    model = workspace.load_model(info.model_path)
    score(workspace, info.snapshot, model)
    until = info.observed_until
    report = run_backtest(workspace, model, info.horizon_days, 0, until=until, leak_dates=0)
    assert report.counts["evaluated"] == info.customers
    with pytest.raises(BacktestError, match="every snapshot is dated after the data's end"):
        run_backtest(workspace, model, info.horizon_days, 0, until=events_end, leak_dates=0)
    workspace.close()


def test_a_too_small_holdout_says_which_rows_count_and_what_share_would_do() -> None:
    from vitalsign.analytics.proposal_figures import holdout_too_small

    test = [dt.date(2025, 6, 2) + dt.timedelta(weeks=w) for w in range(14)]
    train = [dt.date(2024, 12, 2) + dt.timedelta(weeks=w) for w in range(14)]
    rows = pd.DataFrame(
        {
            "account_id": [f"a{i % 107}" for i in range(1477)],
            "churned": [i < 7 for i in range(1477)],
        }
    )
    note = holdout_too_small(rows, 7, 0.2, (train, test))
    assert note.startswith("held-out accounts: 107 accounts, 1477 rows on the 14 test dates")
    assert f"{test[0]} to {test[-1]}" in note and "only the test dates' rows" in note
    found = re.search(r"about --holdout-accounts ([\d.]+)", note)
    assert found is not None, note
    share = float(found.group(1))
    assert share * 7 / 0.2 >= 10 > (share - 0.1) * 7 / 0.2  # the smallest tenth that gives 10
    assert "--test-share" in note
    none_churned = holdout_too_small(rows.assign(churned=False), 0, 0.2, None)
    assert "labelled snapshot dates" in none_churned and "about" not in none_churned
