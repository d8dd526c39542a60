"""Progress bars on the long analytics commands: backtest and diff report their stages."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console
from typer.testing import CliRunner

from vitalsign.analytics import progress as progress_module
from vitalsign.analytics.backtest import EVALUATE_STAGES, run_backtest
from vitalsign.analytics.diff import DIFF_STAGES, diff_models
from vitalsign.analytics.progress import progress_steps
from vitalsign.cli import app
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120), out


def test_a_bar_shows_each_stage_once_the_command_takes_long_and_then_goes() -> None:
    console, out = _terminal()
    with progress_steps("Backtest", 2, console=console, delay=0) as step:
        step("labelling snapshots")
        time.sleep(0.3)  # Rich redraws ten times a second
        step("bootstrap of the AUCs")
        time.sleep(0.3)
    drawn = out.getvalue()
    assert "Backtest: labelling snapshots" in drawn and "0/2" in drawn
    assert "Backtest: bootstrap of the AUCs" in drawn and "1/2" in drawn


def test_a_quick_run_draws_no_bar_and_json_runs_none() -> None:
    console, out = _terminal()
    with progress_steps("Diff", 3, console=console, delay=5) as step:
        step("scoring")
    with progress_steps("Diff", 3, show=False, console=console, delay=0) as step:
        step("scoring")
        time.sleep(0.2)
    assert out.getvalue() == ""


def test_the_backtest_reports_every_stage(demo_workspace: Workspace) -> None:
    stages: list[str] = []
    run_backtest(demo_workspace, replicates=10, leak_dates=0, progress=stages.append)
    assert len(stages) == EVALUATE_STAGES + 2
    assert stages[:3] == [
        "reading the score history",
        "reading the outcomes",
        "labelling snapshots with outcomes",
    ]
    assert stages[-1] == "leak check"


def test_the_diff_reports_every_stage(demo_workspace: Workspace, bad_model: LoadedModel) -> None:
    stages: list[str] = []
    dates = snapshot_dates(demo_workspace.duckdb, "bad")[-9:-4:3]
    good = demo_workspace.load_model()
    diff_models(demo_workspace, good, bad_model, dates, replicates=10, progress=stages.append)
    assert len(stages) == DIFF_STAGES
    assert stages[1:3] == [
        f"scoring 2 dates under {good.name} (A)",
        "scoring 2 dates under bad (B)",
    ]


def test_the_backtest_command_draws_the_bar_on_a_terminal(
    demo_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    result = CliRunner().invoke(
        app,
        ["backtest", "--bootstrap", "20", "--leak-dates", "0", "-w", str(demo_workspace.root)],
        env={"FORCE_COLOR": "1", "COLUMNS": "160"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    stages = EVALUATE_STAGES + 2
    assert "Backtest: leak check" in result.stderr  # the last frame, drawn as the bar goes
    assert f"{stages}/{stages}" in result.stderr
    assert "ROC-AUC" in result.stdout and "Backtest:" not in result.stdout
