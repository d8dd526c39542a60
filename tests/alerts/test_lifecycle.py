"""Alert hygiene: dedupe, cooldown, auto-resolve, severities, and what an alert records."""

from __future__ import annotations

import json

import pytest
from alert_history import alert_config, day, write_day

from vitalsign.alerts.evaluation import evaluate_alerts, evaluate_history
from vitalsign.alerts.inbox import acknowledge_alert, get_alert, list_alerts
from vitalsign.alerts.tasks import list_tasks
from vitalsign.errors import AlertError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

RULES = """
playbooks:
  rescue:
    title: "Rescue {account_name}"
    steps: ["Call {account_id}'s champion", "Log the plan"]
    assignee: owner
    due: 5d
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  low:
    type: score_below
    value: 50
    severity: critical
    cooldown: 14d
    playbook: rescue
  champion:
    type: flag_raised
    severity: info
    cooldown: 0
"""


def _history(ws: Workspace, model: LoadedModel, scores: list[float]) -> None:
    for week, value in enumerate(scores):
        write_day(ws.duckdb, model, day(7 * week), {"A": {"score": value}, "B": {"score": 90}})


def _alerts(ws: Workspace, rule: str = "low") -> list[tuple[str, str]]:
    rows = ws.duckdb.execute(
        "SELECT status, CAST(snapshot_date AS VARCHAR) FROM alerts WHERE rule = ? "
        "ORDER BY snapshot_date",
        [rule],
    ).fetchall()
    return [(str(s), str(d)) for s, d in rows]


def test_one_open_alert_per_account_and_rule_that_keeps_its_latest_values(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(RULES, tiny_model)
    _history(tiny_workspace, tiny_model, [40, 45])
    first = evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(0))
    second = evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(7))
    again = evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(7))
    assert len(first.opened) == 1 and second.opened == [] and again.opened == []
    assert second.kept == 1 and again.kept == 1
    assert _alerts(tiny_workspace) == [("open", day(0).isoformat())]
    alert = get_alert(tiny_workspace.duckdb, first.opened[0])
    assert alert.fired_values["score"] == 40.0 and alert.last_values["score"] == 45.0
    assert alert.last_seen_date == day(7)
    assert list_tasks(tiny_workspace.duckdb).total == 1  # the task was not opened twice


def test_an_alert_resolves_itself_when_the_condition_clears_and_closes_its_task(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(RULES, tiny_model)
    _history(tiny_workspace, tiny_model, [40, 45, 60])
    for n in (0, 7):
        evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(n))
    opened = list_alerts(tiny_workspace.duckdb, status="active").items[0]
    acknowledge_alert(tiny_workspace.duckdb, opened.alert_id, "ann")
    report = evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(14))
    assert report.resolved == [opened.alert_id] and report.tasks_closed == 1
    alert = get_alert(tiny_workspace.duckdb, opened.alert_id)
    assert alert.status == "resolved" and alert.resolved_date == day(14)
    assert alert.resolved_reason == "condition cleared"
    task = list_tasks(tiny_workspace.duckdb, status="closed").items[0]
    assert task.closed_by == "auto" and task.outcome == "condition cleared"


def test_the_cooldown_keeps_a_rule_quiet_after_its_alert_resolves(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(RULES, tiny_model)
    _history(tiny_workspace, tiny_model, [40, 60, 40, 40, 40])
    reports = [
        evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(7 * w)) for w in range(5)
    ]
    # resolved on day 7 with 14 days of cooldown: quiet on day 14, free again on day 21
    assert [len(r.opened) for r in reports] == [1, 0, 0, 1, 0]
    assert [r.suppressed for r in reports] == [0, 0, 1, 0, 0]
    assert _alerts(tiny_workspace) == [
        ("resolved", day(0).isoformat()),
        ("open", day(21).isoformat()),
    ]


def test_a_rule_without_cooldown_may_fire_again_on_the_next_snapshot(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(RULES, tiny_model)
    for n, flags in ((0, ["champion_left"]), (7, []), (14, ["champion_left"])):
        write_day(tiny_workspace.duckdb, tiny_model, day(n), {"A": {"flags": flags}})
        evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(n))
    assert [s for s, _ in _alerts(tiny_workspace, "champion")] == ["resolved", "open"]


def test_each_alert_records_its_snapshot_model_values_and_severity(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(RULES, tiny_model)
    write_day(
        tiny_workspace.duckdb,
        tiny_model,
        day(0),
        {"A": {"score": 30, "band": "yellow", "computed_band": "red"}},
    )
    report = evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(0))
    alert = get_alert(tiny_workspace.duckdb, report.opened[0])
    assert (alert.model_name, alert.model_hash) == ("tiny", tiny_model.hash)
    assert alert.snapshot_date == day(0) and alert.severity == "critical"
    assert alert.fired_values == {
        "score": 30.0,
        "threshold": 50.0,
        "band": "yellow",
        "computed_band": "red",
    }
    assert alert.summary == "score 30.0 is below 50"
    assert alert.band == "yellow (override; computed red)"
    assert (alert.owner, alert.account_name) == ("ann", "Acme")


def test_history_is_evaluated_in_date_order(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(RULES, tiny_model)
    _history(tiny_workspace, tiny_model, [40, 40])
    evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(7))
    with pytest.raises(AlertError, match="already evaluated up to 2024-03-11"):
        evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(0))


def test_alerts_of_accounts_no_longer_scored_or_rules_removed_resolve(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(RULES, tiny_model)
    write_day(
        tiny_workspace.duckdb,
        tiny_model,
        day(0),
        {"A": {"score": 30}, "B": {"score": 30, "flags": ["champion_left"]}},
    )
    write_day(tiny_workspace.duckdb, tiny_model, day(7), {"B": {"score": 30, "flags": ["x"]}})
    evaluate_alerts(tiny_workspace.duckdb, config, tiny_model, day(0))
    fewer = alert_config(RULES.split("  champion:")[0], tiny_model)
    evaluate_alerts(tiny_workspace.duckdb, fewer, tiny_model, day(7))
    reasons = dict(
        tiny_workspace.duckdb.execute(
            "SELECT rule || ':' || account_id, coalesce(resolved_reason, status) FROM alerts"
        ).fetchall()
    )
    assert reasons == {
        "low:A": "account not scored",
        "low:B": "open",
        "champion:B": "rule removed from alerts.yml",
    }


def test_replaying_history_sends_only_the_last_snapshots_new_alerts(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = alert_config(
        RULES.replace("severity: info", "severity: info\n    delivery: immediate"), tiny_model
    )
    for n, a, flags in ((0, 30, []), (7, 30, []), (14, 30, ["champion_left"])):
        write_day(tiny_workspace.duckdb, tiny_model, day(n), {"A": {"score": a, "flags": flags}})
    reports = evaluate_history(tiny_workspace.duckdb, config, tiny_model, day(0), day(14))
    assert [r.snapshot_date for r in reports] == [day(0), day(7), day(14)]
    deliveries = dict(tiny_workspace.duckdb.execute("SELECT rule, delivery FROM alerts").fetchall())
    assert deliveries == {"low": "none", "champion": "immediate"}
    queued = tiny_workspace.duckdb.execute("SELECT payload FROM outbox").fetchall()
    assert [json.loads(p)["alert"]["rule"] for (p,) in queued] == ["champion"]
