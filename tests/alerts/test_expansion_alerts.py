"""The expansion_candidate rule: upsell candidates from the model's expansion score."""

from __future__ import annotations

from importlib import resources

import pytest
from alert_history import alert_config, day, holds, write_day

from vitalsign.alerts import evaluate_alerts
from vitalsign.alerts.config import AlertConfig
from vitalsign.alerts.digest import digest_content
from vitalsign.alerts.messages import describe, digest_lines
from vitalsign.alerts.stats import alert_stats
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.store.workspace import Workspace

SCORES = {"A": 72.0, "B": 55.0, "C": None}  # C: too little data for an expansion score


def _write(workspace: Workspace) -> None:
    model = load_model(workspace.model_path)
    write_day(workspace.duckdb, model, day(0), {a: {"score": 75.0} for a in SCORES})
    for account, score in SCORES.items():
        workspace.duckdb.execute(
            "INSERT INTO expansion_scores VALUES (?, ?, ?, ?, 1.0, '{}')",
            [day(0), model.name, account, score],
        )


def test_the_rule_fires_from_the_model_s_candidate_min_or_its_own(workspace: Workspace) -> None:
    _write(workspace)
    model = load_model(workspace.model_path)
    assert model.spec.expansion is not None and model.spec.expansion.candidate_min == 60
    fired = holds(workspace.duckdb, model, "type: expansion_candidate", day(0))
    assert {a for a, (f, _) in fired.items() if f} == {"A"}
    values = fired["A"][1]
    assert values["expansion_score"] == 72.0 and values["threshold"] == 60.0
    assert describe("expansion_candidate", values) == (
        "expansion score 72.0 reaches 60: an upsell candidate"
    )
    lower = holds(workspace.duckdb, model, "type: expansion_candidate\nmin_score: 50", day(0))
    assert {a for a, (f, _) in lower.items() if f} == {"A", "B"}


def _starter(model: LoadedModel) -> AlertConfig:
    text = resources.files("vitalsign.alerts").joinpath("starter_alerts.yml").read_text("utf-8")
    return alert_config(text.replace("baseline: true", "baseline: false"), model)


def test_the_starter_lists_upsell_candidates_in_the_digest_not_as_alerts(
    workspace: Workspace,
) -> None:
    """An upsell candidate is an opportunity: one digest line per owner, no risk alert."""
    _write(workspace)
    model = load_model(workspace.model_path)
    config = _starter(model)
    report = evaluate_alerts(workspace.duckdb, config, model, day(0), notify=False)
    upsells = workspace.duckdb.execute(
        "SELECT count(*) FROM alerts WHERE rule = 'upsell_candidate'"
    ).fetchone()[0]
    assert upsells == 0 and report.reminders >= 1
    assert "upsell_candidate" not in set(alert_stats(workspace.duckdb).by_rule["rule"])
    content = digest_content(
        workspace.duckdb, model.name, "ann", "weekly", day(0), None, config=config
    )
    [line] = [r for r in content["reminders"] if r["rule"] == "upsell_candidate"]
    assert line["kind"] == "opportunity" and line["account_ids"] == ["A"]
    assert line["text"] == "1 account is an upsell candidate (expansion score 60 or more): Acme"
    text = digest_lines(content)
    assert text[text.index("Opportunities:") + 1] == f"- {line['text']}"
    assert "Reminders:" not in text or text.index("Reminders:") > text.index("Opportunities:")


def test_an_alert_and_a_task_per_candidate_is_a_choice_with_reminder_false(
    workspace: Workspace,
) -> None:
    _write(workspace)
    model = load_model(workspace.model_path)
    with pytest.raises(
        VitalsignError, match=r"upsell.playbook: a reminder rule .*`reminder: false`"
    ):
        alert_config(
            "rules:\n  upsell: {type: expansion_candidate, playbook: upsell_plan}\n"
            + "playbooks:\n  upsell_plan: {title: 'Upsell {account_name}'}\n",
            model,
        )
    config = alert_config(
        "baseline: false\nrules:\n  upsell: {type: expansion_candidate, reminder: false, "
        "playbook: upsell_plan}\nplaybooks:\n  upsell_plan: {title: 'Upsell {account_name}'}\n",
        model,
    )
    evaluate_alerts(workspace.duckdb, config, model, day(0), notify=False)
    tasks = workspace.duckdb.execute(
        "SELECT t.account_id, t.title FROM tasks t JOIN alerts a USING (alert_id) "
        "WHERE a.rule = 'upsell'"
    ).fetchall()
    assert tasks == [("A", "Upsell Acme")]


def test_a_model_without_an_expansion_score_refuses_the_rule(workspace: Workspace) -> None:
    text = workspace.model_path.read_text(encoding="utf-8")
    start = text.index("\nexpansion:")
    end = text.index("\nbands:")
    workspace.model_path.write_text(text[:start] + "\n" + text[end:], encoding="utf-8")
    model = load_model(workspace.model_path)
    with pytest.raises(VitalsignError, match="no `expansion:` score"):
        alert_config("rules:\n  up: {type: expansion_candidate}\n", model)
