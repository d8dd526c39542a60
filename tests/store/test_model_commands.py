"""`vitalsign model activate` and `vitalsign model history` over the model history API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.errors import ModelError, VitalsignError
from vitalsign.store.workspace import init_workspace
from world import FIXTURES

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_activate_a_file_list_the_history_and_bring_the_old_one_back(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    starter = (root / "models" / "default.yml").read_text(encoding="utf-8")
    tiny = FIXTURES / "models" / "tiny.yml"
    out = run("model", "activate", str(tiny), "--by", "maria", "-w", str(root))
    assert "activated tiny" in out and "version 2" in out
    assert (root / "models" / "default.yml").read_text(encoding="utf-8") == tiny.read_text()
    rows = json.loads(run("model", "history", "--json", "-w", str(root)))
    assert [(r["version"], r["activated_by"], r["active"]) for r in rows] == [
        (2, "maria", True),
        (1, None, False),
    ]
    assert "in place before any activation" in run("model", "history", "-w", str(root))
    run("model", "activate", "--version", "1", "-w", str(root))
    assert (root / "models" / "default.yml").read_text(encoding="utf-8") == starter


def test_a_broken_file_or_a_missing_choice_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    broken = tmp_path / "broken.yml"
    tiny = (FIXTURES / "models" / "tiny.yml").read_text(encoding="utf-8")
    broken.write_text(tiny.replace("window: 30d", "window: 30x", 1), encoding="utf-8")
    with pytest.raises(ModelError, match=r"broken\.yml:\d+ signals\."):
        run("model", "activate", str(broken), "-w", str(root))
    with pytest.raises(VitalsignError, match="one of them"):
        run("model", "activate", "-w", str(root))
    assert "no model activated yet" in run("model", "history", "-w", str(root))
