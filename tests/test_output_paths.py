"""Outputs never overwrite what they should not: one check for every file the CLI writes."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.errors import VitalsignError
from vitalsign.store.output_paths import check_output_path, write_output
from vitalsign.store.workspace import Workspace, init_workspace

runner = CliRunner()
PROPOSAL = "# Proposed by `vitalsign calibrate` from model default (abc), horizon 90 days,\n"


def _database_bytes(ws: Workspace) -> bytes:
    return ws.database_path.read_bytes()[:16]


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """A closed workspace (the CLI opens it itself)."""
    workspace.duckdb.execute("CHECKPOINT")
    workspace.close()
    return workspace


@pytest.mark.parametrize(
    "name", ["vitalsign.duckdb", "vitalsign.duckdb.wal", "vitalsign.yml", "alerts.yml"]
)
@pytest.mark.parametrize("kind", ["html", "model"])
def test_the_workspace_files_are_refused_even_with_force(
    ws: Workspace, name: str, kind: str
) -> None:
    target = ws.root / name
    with pytest.raises(VitalsignError) as caught:
        check_output_path(target, kind, "--out", ws, force=True)
    message = str(caught.value)
    assert str(target) in message and "--out" in message and "give another path" in message


def test_a_model_file_is_refused_for_a_report_even_with_force(ws: Workspace) -> None:
    with pytest.raises(VitalsignError, match=r"models/default\.yml"):
        check_output_path(ws.model_path, "html", "--html", ws, force=True)
    with pytest.raises(VitalsignError, match=r"models/new\.yml"):
        check_output_path(ws.root / "models" / "new.yml", "html", "--html", ws, force=True)


def test_a_model_writer_replaces_a_hand_written_model_only_with_force(ws: Workspace) -> None:
    with pytest.raises(VitalsignError, match="--force"):
        check_output_path(ws.model_path, "model", "-o", ws)
    assert check_output_path(ws.model_path, "model", "-o", ws, force=True) == ws.model_path


def test_an_earlier_proposal_is_replaced_without_force(ws: Workspace) -> None:
    earlier = ws.root / "models" / "default.proposed.yml"
    earlier.write_text(PROPOSAL + "name: default\n")
    assert check_output_path(earlier, "model", "-o", ws) == earlier


@pytest.mark.parametrize("name", ["other.duckdb", "report.html", "notes.txt"])
def test_any_duckdb_database_is_refused_whatever_its_name(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    duckdb.connect(str(target)).close()
    with pytest.raises(VitalsignError, match="DuckDB database"):
        check_output_path(target, "html", "--html", None, force=True)


def test_a_symlink_to_the_database_is_refused(ws: Workspace, tmp_path: Path) -> None:
    link = tmp_path / "innocent.html"
    link.symlink_to(ws.database_path)
    with pytest.raises(VitalsignError, match="database"):
        check_output_path(link, "html", "--html", ws, force=True)


def test_an_existing_html_file_may_be_replaced_by_an_html_report(tmp_path: Path) -> None:
    old = tmp_path / "report.html"
    old.write_text("\ufeff  <!DOCTYPE html>\n<html><p>last week</p></html>")
    written = write_output(old, "<!DOCTYPE html>\n<p>new</p>", "html", "--html")
    assert written == old and old.read_text() == "<!DOCTYPE html>\n<p>new</p>"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("accounts.csv", "account_id,arr\nA,100\n"),
        ("model.yml", "name: mine\n"),
        ("report.html", "account_id,arr\nA,100\n"),  # called .html, but it is not
        ("notes.txt", "keep me"),
    ],
)
def test_an_existing_file_of_another_kind_needs_force(
    tmp_path: Path, name: str, content: str
) -> None:
    target = tmp_path / name
    target.write_text(content)
    with pytest.raises(VitalsignError) as caught:
        write_output(target, "<!DOCTYPE html>", "html", "--html")
    assert "--force" in str(caught.value) and str(target) in str(caught.value)
    assert target.read_text() == content
    write_output(target, "<!DOCTYPE html>", "html", "--html", force=True)
    assert target.read_text() == "<!DOCTYPE html>"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VitalsignError, match="is a folder"):
        check_output_path(tmp_path, "html", "--html", None, force=True)


def test_relative_paths_are_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    written = write_output(Path("out") / "report.html", "<!DOCTYPE html>", "html", "--html")
    assert written == tmp_path / "out" / "report.html" and written.is_absolute()
    assert written.read_text() == "<!DOCTYPE html>"
    assert sorted(os.listdir(tmp_path / "out")) == ["report.html"]  # no temporary file left


def test_backtest_refuses_to_write_its_report_over_the_workspace_database(
    ws: Workspace,
) -> None:
    before = ws.database_path.read_bytes()
    result = runner.invoke(app, ["backtest", "--html", str(ws.database_path), "-w", str(ws.root)])
    assert result.exit_code != 0
    assert isinstance(result.exception, VitalsignError)
    assert str(ws.database_path) in str(result.exception)
    assert ws.database_path.read_bytes() == before


def test_backtest_refuses_an_existing_csv_before_computing_anything(
    ws: Workspace, tmp_path: Path
) -> None:
    csv = tmp_path / "accounts.csv"
    csv.write_text("account_id\nA\n")
    result = runner.invoke(app, ["backtest", "--html", str(csv), "-w", str(ws.root)])
    assert isinstance(result.exception, VitalsignError)
    assert "--force" in str(result.exception)  # not the empty workspace's missing outcomes
    assert csv.read_text() == "account_id\nA\n"


@pytest.mark.parametrize("target", ["vitalsign.yml", "vitalsign.duckdb", "models/default.yml"])
def test_calibrate_refuses_the_workspace_files(ws: Workspace, target: str) -> None:
    path = ws.root / target
    before = path.read_bytes()
    result = runner.invoke(app, ["calibrate", "-o", str(path), "-w", str(ws.root)])
    assert isinstance(result.exception, VitalsignError), result.output
    assert str(path) in str(result.exception)
    assert path.read_bytes() == before


def test_init_on_an_existing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("keep me")
    result = runner.invoke(app, ["init", str(note)])
    assert isinstance(result.exception, VitalsignError)
    assert str(note) in str(result.exception) and note.read_text() == "keep me"


def test_demo_never_deletes_a_workspace_it_did_not_build(ws: Workspace) -> None:
    before = ws.database_path.read_bytes()
    result = runner.invoke(app, ["demo", str(ws.root), "--accounts", "20", "--weeks", "2"])
    assert isinstance(result.exception, VitalsignError), result.output
    assert "--force" in str(result.exception) and str(ws.root) in str(result.exception)
    assert ws.database_path.read_bytes() == before


def test_demo_rebuilds_its_own_demo_workspace(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    first = runner.invoke(app, ["demo", str(root), "--accounts", "150", "--weeks", "5"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["demo", str(root), "--accounts", "150", "--weeks", "5"])
    assert again.exit_code == 0, again.output
    init_workspace(root).close()
