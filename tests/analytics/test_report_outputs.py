"""Report files end to end: relative to the current folder, reported as absolute paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.store.workspace import Workspace

runner = CliRunner()
FAST = ["--bootstrap", "10", "--leak-dates", "0"]


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_backtest_replaces_last_weeks_report_and_prints_its_absolute_path(
    demo_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.html").write_text("<!DOCTYPE html><p>last week</p>")
    out = _run("backtest", "--html", "report.html", *FAST, "-w", str(demo_workspace.root))
    assert f"HTML report: {tmp_path / 'report.html'}" in out.replace("\n", "")
    assert "last week" not in (tmp_path / "report.html").read_text()


def test_backtest_json_names_the_report_it_wrote(
    demo_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = _run("backtest", "--json", "--html", "r.html", *FAST, "-w", str(demo_workspace.root))
    assert json.loads(out)["html_report"] == str(tmp_path / "r.html")


def test_calibrate_writes_a_relative_output_in_the_current_folder(
    demo_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yml").write_text("name: hand-written\n")
    root = str(demo_workspace.root)
    refused = runner.invoke(
        app,
        ["calibrate", "-o", "mine.yml", "--bootstrap", "10", "-w", root],
    )
    assert refused.exit_code != 0 and "--force" in str(refused.exception)
    assert (tmp_path / "mine.yml").read_text() == "name: hand-written\n"
    out = _run("calibrate", "-o", "proposal.yml", "--bootstrap", "10", "--json", "-w", root)
    assert json.loads(out)["proposed"]["path"] == str(tmp_path / "proposal.yml")
    assert "# Proposed by `vitalsign calibrate`" in (tmp_path / "proposal.yml").read_text()
