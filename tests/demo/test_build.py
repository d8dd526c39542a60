"""`vitalsign demo` end to end on a small world."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.demo.build import build_demo
from vitalsign.errors import WorkspaceError
from vitalsign.store.workspace import open_workspace


def test_the_demo_builds_backfills_reports_and_explains(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    root = build_demo(tmp_path / "demo", accounts=150, seed=3, weeks=5, console=console)
    text = out.getvalue()
    assert "ARR at risk" in text and "Biggest movers since" in text
    assert "Riskiest account: acct-" in text and "What changed" in text
    # the same why as `vitalsign explain`: losses first and what it would take
    assert "What it would take" in text and "Signals (largest loss first)" in text
    assert "largest contribution first" not in text
    hints = text.split("Try:")[1].splitlines()
    tried = [line.strip().split("   ")[0] for line in hints if line.strip()]
    assert any("users add NAME --role admin" in line for line in tried), tried
    for line in tried:  # every command but --help names the demo's workspace (trial 12.17)
        assert line.endswith("--help") or f"-w {root}" in line, line
    workspace = open_workspace(root)
    dates = workspace.duckdb.execute("SELECT count(DISTINCT snapshot_date) FROM scores").fetchone()
    assert dates == (5,)
    workspace.close()


def test_the_demo_refuses_to_replace_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(WorkspaceError, match="not a vitalsign workspace"):
        build_demo(tmp_path / "mine", accounts=50, weeks=2)
    assert (tmp_path / "mine" / "thesis.txt").exists()


@pytest.mark.parametrize("weeks", [1, 2, 4])
def test_the_demo_finishes_with_fewer_weeks_than_its_explanation_looks_back(
    tmp_path: Path, weeks: int
) -> None:
    root = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", str(root), "--accounts", "100", "--weeks", str(weeks)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "Riskiest account: acct-" in result.output and "Where to look" in result.output
    assert ("What changed" in result.output) == (weeks > 1)  # one snapshot: nothing to compare
    workspace = open_workspace(root)
    dates = workspace.duckdb.execute("SELECT count(DISTINCT snapshot_date) FROM scores").fetchone()
    assert dates == (weeks,)
    workspace.close()


def test_the_demo_refuses_zero_weeks_before_touching_the_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="--weeks 0: give at least 1 week"):
        build_demo(tmp_path / "demo", accounts=50, weeks=0)
    assert not (tmp_path / "demo").exists()
