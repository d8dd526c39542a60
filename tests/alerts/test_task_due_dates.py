"""Task due dates are judged against the workspace's today, its latest snapshot date.

A demo or replayed history ends before the wall clock's today; its tasks are not all
overdue for that. A due date set before that today is accepted with a warning.
"""

from __future__ import annotations

import datetime as dt

from alert_history import alert_config, day, write_day
from typer.testing import CliRunner

from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.alerts.tasks import is_overdue, tasks_today
from vitalsign.cli import app
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

RULES = """
playbooks:
  rescue: {title: "Rescue {account_name}", due: 7d}
baseline: false  # these tests exercise the tasks, not the first-run baseline
steady: {persistence: 1, margin: 0}
rules:
  low: {type: score_below, value: 50, playbook: rescue}
"""
WIDE = {"COLUMNS": "400"}  # one table row per line


def _history(ws: Workspace, model: LoadedModel) -> str:
    """Two snapshots a year and more ago (day(0), day(10)); A's task is due day(7)."""
    write_day(ws.duckdb, model, day(0), {"A": {"score": 30}, "B": {}})
    evaluate_alerts(ws.duckdb, alert_config(RULES, model), model, day(0), notify=False)
    write_day(ws.duckdb, model, day(3), {"A": {"score": 30}, "B": {}})
    evaluate_alerts(ws.duckdb, alert_config(RULES, model), model, day(3), notify=False)
    assert tasks_today(ws.duckdb) == day(3) < dt.date.today()
    root = str(ws.root)
    ws.close()
    return root


def test_a_task_due_after_the_latest_snapshot_is_not_overdue(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    root = _history(tiny_workspace, tiny_model)
    result = CliRunner().invoke(app, ["tasks", "-w", root], env=WIDE, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert str(day(7)) in result.output and "(overdue)" not in result.output
    assert f"Overdue: due before {day(3)}, the latest snapshot date." in result.output
    late = CliRunner().invoke(
        app, ["tasks", "add", "B", "--title", "Call", "--due", str(day(1)), "-w", root]
    )
    assert late.exit_code == 0, late.output
    listed = CliRunner().invoke(app, ["tasks", "-w", root], env=WIDE).output
    assert listed.count("(overdue)") == 1


def test_a_due_date_before_today_is_saved_with_a_warning(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    root = _history(tiny_workspace, tiny_model)
    runner = CliRunner()
    past = runner.invoke(
        app, ["tasks", "add", "B", "--title", "Renewal call", "--due", str(day(2)), "-w", root]
    )
    assert past.exit_code == 0, past.output
    assert f"warning: due date {day(2)} is before today ({day(3)}" in past.stderr
    fine = runner.invoke(
        app, ["tasks", "add", "B", "--title", "QBR", "--due", str(day(3)), "-w", root]
    )
    assert fine.exit_code == 0 and "warning" not in fine.stderr
    task_id = fine.output.split()[1]
    moved = runner.invoke(app, ["tasks", "update", task_id, "--due", str(day(1)), "-w", root])
    assert moved.exit_code == 0 and f"due date {day(1)} is before today" in moved.stderr


def test_overdue_needs_an_open_task_due_before_today() -> None:
    today = dt.date(2025, 6, 2)
    assert is_overdue(dt.date(2025, 6, 1), "open", today)
    assert not is_overdue(dt.date(2025, 6, 2), "in_progress", today)
    assert not is_overdue(dt.date(2025, 6, 1), "closed", today)
    assert not is_overdue(None, "open", today)
