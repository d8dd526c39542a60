"""`init` on an existing workspace keeps it, and says what it kept."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.store.workspace import existing_parts, init_workspace
from world import load_tiny_world

runner = CliRunner()


def _init(folder: Path) -> str:
    result = runner.invoke(app, ["init", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_on_an_existing_workspace_says_it_kept_it_and_what(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    first = _init(folder)
    assert first.startswith("Created workspace") and "kept" not in first
    model = folder / "models" / "default.yml"
    edited = model.read_text(encoding="utf-8").replace("name: default", "name: acme_health")
    model.write_text(edited, encoding="utf-8")
    ws = init_workspace(folder)
    load_tiny_world(ws.duckdb)
    ws.close()
    second = _init(folder)
    assert "Kept the existing workspace" in second and "nothing was overwritten" in second
    lines = {line.split()[0]: line for line in second.splitlines()[1:] if line.strip()}
    assert lines["config"].rstrip().endswith("kept")
    assert "kept (as it was: edits stay)" in lines["model"]
    assert "kept (5 accounts)" in lines["data"]  # the tiny world's five accounts
    assert model.read_text(encoding="utf-8") == edited


def test_init_completes_a_folder_that_holds_part_of_a_workspace(tmp_path: Path) -> None:
    folder = tmp_path / "half"
    init_workspace(folder).close()
    (folder / "models" / "default.yml").unlink()
    assert set(existing_parts(folder)) == {"config", "data"}
    out = _init(folder)
    assert "Completed workspace" in out and "kept config, data" in out
    assert "created" in next(line for line in out.splitlines() if "default.yml" in line)
    assert set(existing_parts(folder)) == {"config", "model", "data"}


def test_existing_parts_of_a_new_folder_is_empty(tmp_path: Path) -> None:
    assert existing_parts(tmp_path / "new") == {}
