"""A replay that evaluates nothing says why and how to fix it (trial 12, item 7)."""

from __future__ import annotations

from pathlib import Path

from alert_history import day, write_day
from typer.testing import CliRunner

from vitalsign.alerts.loading import ALERTS_FILE
from vitalsign.cli import app
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import init_workspace
from world import FIXTURES

RULES = """
rules:
  low:
    type: score_below
    value: 50
"""


def _evaluate(root: Path, *options: str) -> str:
    model = str(FIXTURES / "models" / "tiny.yml")
    result = CliRunner().invoke(
        app,
        ["alerts", "evaluate", *options, "--quiet", "--model", model, "-w", str(root)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_a_replay_of_evaluated_or_missing_snapshots_says_why_nothing_was_replayed(
    tmp_path: Path, tiny_model: LoadedModel
) -> None:
    workspace = init_workspace(tmp_path / "ws")
    (workspace.root / ALERTS_FILE).write_text(RULES, encoding="utf-8")
    for n in (0, 7, 14):
        write_day(workspace.duckdb, tiny_model, day(n), {"A": {"score": 30.0}})
    workspace.close()
    root = workspace.root
    assert "Replayed 1 snapshot" in _evaluate(root, "--from", str(day(14)))
    older = _evaluate(root, "--from", str(day(0)), "--to", str(day(7)))
    assert f"Replayed 0 snapshots: the 2 snapshots in that range ({day(0)} to {day(7)}) " in older
    assert f"are not after {day(14)}, the last date already evaluated" in older
    assert "To fix this, replay dates after" in older
    empty = _evaluate(root, "--from", str(day(30)))
    assert "Replayed 0 snapshots: model 'tiny' has no snapshot in that range" in empty
    assert f"its snapshots run from {day(0)} to {day(14)}" in empty
    assert "`vitalsign backfill`" in empty
