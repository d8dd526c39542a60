"""`vitalsign demo` end to end on a small world."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

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
