"""Calls to action and feedback: tasks from playbooks, closing by hand, acks, usefulness, stats."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from alert_history import alert_config, day, write_day
from typer.testing import CliRunner

from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.alerts.inbox import acknowledge_alert, list_alerts, set_feedback
from vitalsign.alerts.stats import alert_stats
from vitalsign.alerts.tasks import close_task, create_task, list_tasks, update_task
from vitalsign.cli import app
from vitalsign.errors import AlertError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

RULES = """
roles: {cs_manager: maria@example.com}
playbooks:
  rescue:
    title: "Rescue {account_name} ({band})"
    steps: ["Call the champion of {account_id}", "Agree a plan"]
    assignee: owner
    due: 7d
  escalate:
    title: "Escalate {account_name}"
    assignee: cs_manager
    due: 2d
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  low: {type: score_below, value: 50, playbook: rescue}
  gate: {type: gate_failed, playbook: escalate, severity: critical}
"""
runner = CliRunner()


def _evaluated(ws: Workspace, model: LoadedModel) -> None:
    write_day(
        ws.duckdb,
        model,
        day(0),
        {"A": {"score": 30}, "B": {"score": 0, "gate": False}, "C": {"score": 45}},
    )
    evaluate_alerts(ws.duckdb, alert_config(RULES, model), model, day(0))


def _audit(ws: Workspace) -> list[tuple[str, str, str]]:
    rows = ws.duckdb.execute(
        "SELECT actor, action, subject FROM audit_log ORDER BY logged_at"
    ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def test_playbooks_open_tasks_with_steps_assignee_and_due_date(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _evaluated(tiny_workspace, tiny_model)
    tasks = {t.account_id + ":" + t.playbook: t for t in list_tasks(tiny_workspace.duckdb).items}
    assert set(tasks) == {"A:rescue", "B:rescue", "C:rescue", "B:escalate"}
    rescue = tasks["A:rescue"]
    assert rescue.title == "Rescue Acme (red)" and rescue.assignee == "ann"
    assert rescue.steps == ["Call the champion of A", "Agree a plan"]
    assert rescue.due_date == day(7) and rescue.status == "open"
    assert tasks["B:escalate"].assignee == "maria@example.com"
    assert tasks["B:escalate"].due_date == day(2)
    mine = list_tasks(tiny_workspace.duckdb, assignee="ann")
    assert mine.total == 2 and [t.account_id for t in mine.items] == ["A", "C"]


def test_a_task_is_updated_and_closed_by_hand_with_an_outcome_and_audited(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _evaluated(tiny_workspace, tiny_model)
    con = tiny_workspace.duckdb
    task = list_tasks(con, account_id="A").items[0]
    moved = update_task(con, task.task_id, "ann", status="in_progress", due_date=day(10))
    assert moved.status == "in_progress" and moved.due_date == day(10)
    with pytest.raises(AlertError, match="needs an outcome"):
        close_task(con, task.task_id, "ann", "  ")
    closed = close_task(con, task.task_id, "ann", "saved: renewed for a year")
    assert (closed.status, closed.closed_by, closed.outcome) == (
        "closed",
        "ann",
        "saved: renewed for a year",
    )
    with pytest.raises(AlertError, match="already closed"):
        close_task(con, task.task_id, "ann", "again")
    assert list_tasks(con, account_id="A").total == 0  # active tasks only by default
    assert list_tasks(con, account_id="A", status="closed").total == 1
    assert _audit(tiny_workspace) == [
        ("ann", "task.update", task.task_id),
        ("ann", "task.close", task.task_id),
    ]
    with pytest.raises(AlertError, match="no task"):
        close_task(con, "t-nope", "ann", "x")


def test_acknowledgements_and_feedback_are_audited(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _evaluated(tiny_workspace, tiny_model)
    con = tiny_workspace.duckdb
    alert = list_alerts(con, account_id="A").items[0]
    acked = acknowledge_alert(con, alert.alert_id, "ann", "calling them")
    assert acked.status == "acknowledged" and acked.acknowledged_by == "ann"
    with pytest.raises(AlertError, match="only an open alert"):
        acknowledge_alert(con, alert.alert_id, "ann")
    rated = set_feedback(con, alert.alert_id, False, "ann", "they were on holiday")
    assert rated.useful is False and rated.feedback_note == "they were on holiday"
    assert _audit(tiny_workspace) == [
        ("ann", "alert.acknowledge", alert.alert_id),
        ("ann", "alert.feedback", alert.alert_id),
    ]
    detail = json.loads(
        con.execute("SELECT detail FROM audit_log WHERE action = 'alert.feedback'").fetchone()[0]
    )
    assert detail == {"note": "they were on holiday", "useful": False}


def test_list_alerts_filters_and_pages(tiny_workspace: Workspace, tiny_model: LoadedModel) -> None:
    _evaluated(tiny_workspace, tiny_model)
    con = tiny_workspace.duckdb
    everything = list_alerts(con)
    assert everything.total == 4
    assert everything.items[0].severity == "critical"  # most severe first within a date
    assert list_alerts(con, owner="ann").total == 2
    assert [a.rule for a in list_alerts(con, account_id="B", rule="gate").items] == ["gate"]
    page = list_alerts(con, limit=3, offset=3)
    assert page.total == 4 and len(page.items) == 1
    assert list_alerts(con, status="resolved").total == 0
    assert list_alerts(con, account_ids=["A", "C"]).total == 2
    assert list_tasks(con, account_ids=["B"]).total == 2
    assert list_alerts(con, account_ids=[]).total == 0
    with pytest.raises(AlertError, match="alert status"):
        list_alerts(con, status="closed")


def test_stats_report_volume_precision_and_churn_after_alerts(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _evaluated(tiny_workspace, tiny_model)
    con = tiny_workspace.duckdb
    con.execute(
        "INSERT INTO outcomes (account_id, occurred_at, kind, arr_before, arr_after) "
        "VALUES ('B', ?, 'churned', 90000, 0)",
        [dt.datetime.combine(day(30), dt.time())],
    )
    for alert in list_alerts(con).items:
        set_feedback(con, alert.alert_id, alert.account_id != "C", "ann")
    stats = alert_stats(con)
    assert (stats.alerts, stats.accounts, stats.rated, stats.useful) == (4, 3, 4, 3)
    assert stats.precision == 0.75
    assert stats.churned_accounts == 1 and stats.churn_rate == pytest.approx(1 / 3)
    assert (stats.churners, stats.churners_alerted) == (2, 1)  # E churned before any alert
    rules = stats.by_rule.set_index("rule")
    assert rules.loc["low", "alerts"] == 3 and rules.loc["low", "precision"] == pytest.approx(2 / 3)
    assert rules.loc["gate", "churned"] == 1
    assert alert_stats(con, horizon_days=20).churned_accounts == 0
    assert alert_stats(con, since=day(1)).alerts == 0


def test_the_cli_lists_and_closes_tasks_rates_alerts_and_prints_stats(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _evaluated(tiny_workspace, tiny_model)
    ws = str(tiny_workspace.root)
    tiny_workspace.close()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "-w", ws], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    listed = json.loads(run("tasks", "--assignee", "ann", "--format", "json"))
    assert listed["total"] == 2
    task_id = listed["items"][0]["task_id"]
    assert "closed: churned anyway" in run("tasks", "close", task_id, "--outcome", "churned anyway")
    assert "in_progress" in run(
        "tasks", "update", listed["items"][1]["task_id"], "--status", "in_progress"
    )
    assert "Tasks (3 of 3)" in run("tasks")  # the one closed is no longer active
    alerts = json.loads(run("alerts", "list", "--format", "json"))
    assert alerts["total"] == 4
    first = alerts["items"][0]["alert_id"]
    assert "marked useful" in run("alerts", "feedback", first, "--useful", "--by", "ann")
    assert "acknowledged by ann" in run("alerts", "ack", first, "--by", "ann")
    stats = json.loads(run("alerts", "stats", "--format", "json"))
    assert stats["precision"] == 1.0 and stats["alerts"] == 4
    assert "precision 100%" in run("alerts", "stats")
    shown = run("alerts", "show", first)
    assert "fired_values" in shown and "vitalsign explain" in shown
    assert Path(ws).exists()


def test_a_task_created_by_hand_is_manual_audited_and_goes_to_the_owner(
    tiny_workspace: Workspace,
) -> None:
    con = tiny_workspace.duckdb
    owner = con.execute("SELECT owner FROM accounts WHERE account_id = 'A'").fetchone()[0]
    task = create_task(con, "A", "ann", "Call the CFO", due_date=dt.date(2024, 4, 1), steps=["Ask"])
    assert (task.playbook, task.alert_id, task.assignee, task.status) == (
        "manual",
        None,
        owner,
        "open",
    )
    assert task.steps == ["Ask"] and task.due_date == dt.date(2024, 4, 1)
    audited = con.execute(
        "SELECT actor, action FROM audit_log WHERE subject = ?", [task.task_id]
    ).fetchall()
    assert audited == [("ann", "task.create")]
    with pytest.raises(AlertError, match="no account 'Z'"):
        create_task(con, "Z", "ann", "Call")
    with pytest.raises(AlertError, match="needs a title"):
        create_task(con, "A", "ann", "  ")


def test_the_cli_adds_a_task_by_hand(tiny_workspace: Workspace) -> None:
    ws = str(tiny_workspace.root)
    tiny_workspace.close()
    added = runner.invoke(
        app, ["tasks", "add", "A", "--title", "Send the QBR deck", "--due", "2024-04-02", "-w", ws]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["tasks", "--format", "json", "-w", ws])
    items = json.loads(listed.output)["items"]
    assert [(t["title"], t["playbook"], t["due_date"]) for t in items] == [
        ("Send the QBR deck", "manual", "2024-04-02")
    ]
