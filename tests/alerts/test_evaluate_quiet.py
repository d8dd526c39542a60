"""`vitalsign alerts evaluate --quiet` records alerts and queues no message, for a range too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alert_history import day, write_day
from typer.testing import CliRunner

from vitalsign.alerts.loading import ALERTS_FILE
from vitalsign.cli import app
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import init_workspace, open_workspace
from world import FIXTURES

RULES = """
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  low:
    type: score_below
    value: 50
    severity: critical
    delivery: immediate
  champion:
    type: flag_raised
    severity: info
    delivery: immediate
"""


def _replay(root: Path, *options: str) -> tuple[int, int, str]:
    """Replay every snapshot with the CLI; return (alerts recorded, messages queued, output)."""
    model = str(FIXTURES / "models" / "tiny.yml")
    span = ["--from", str(day(0)), "--to", str(day(14))]
    result = CliRunner().invoke(
        app,
        ["alerts", "evaluate", *span, *options, "--model", model, "-w", str(root)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    workspace = open_workspace(root)
    alerts, queued = workspace.duckdb.execute(
        "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM outbox)"
    ).fetchone()
    workspace.close()
    return int(alerts), int(queued), result.output


@pytest.fixture
def history(tmp_path: Path, tiny_model: LoadedModel) -> Path:
    """A workspace whose three weekly snapshots raise alerts, the last one new ones."""
    workspace = init_workspace(tmp_path / "ws")
    (workspace.root / ALERTS_FILE).write_text(RULES, encoding="utf-8")
    for n, flags in ((0, []), (7, []), (14, ["champion_left"])):
        accounts = {"A": {"score": 30.0, "flags": flags}, "B": {"score": 35.0 if n else 90.0}}
        write_day(workspace.duckdb, tiny_model, day(n), accounts)
    workspace.close()
    return workspace.root


def test_a_quiet_replay_records_the_alerts_and_queues_nothing(
    history: Path, tmp_path: Path
) -> None:
    loud_root = tmp_path / "loud"
    shutil.copytree(history, loud_root)
    alerts, queued, output = _replay(history, "--quiet")
    assert alerts == 3 and queued == 0, output  # low:A, low:B (day 7), champion:A (day 14)
    assert "Replayed 3 snapshots" in output and "alerts deliver" not in output
    loud_alerts, loud_queued, loud_output = _replay(loud_root)
    assert loud_alerts == alerts and loud_queued > 0  # the same range without --quiet
    assert "Send them with `vitalsign alerts deliver`" in loud_output
