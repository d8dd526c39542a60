"""The expansion_candidate rule: upsell candidates from the model's expansion score."""

from __future__ import annotations

from importlib import resources

import pytest
from alert_history import alert_config, day, holds, write_day

from vitalsign.alerts import evaluate_alerts
from vitalsign.alerts.messages import describe
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import load_model
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


def test_the_starter_opens_an_upsell_task_for_the_owner(workspace: Workspace) -> None:
    _write(workspace)
    model = load_model(workspace.model_path)
    text = resources.files("vitalsign.alerts").joinpath("starter_alerts.yml").read_text("utf-8")
    config = alert_config(text.replace("baseline: true", "baseline: false"), model)
    assert config.rules["upsell_candidate"].playbook == "upsell_plan"
    evaluate_alerts(workspace.duckdb, config, model, day(0), notify=False)
    tasks = workspace.duckdb.execute(
        "SELECT t.account_id, t.title FROM tasks t JOIN alerts a USING (alert_id) "
        "WHERE a.rule = 'upsell_candidate'"
    ).fetchall()
    assert [a for a, _ in tasks] == ["A"] and tasks[0][1].startswith("Upsell conversation")


def test_a_model_without_an_expansion_score_refuses_the_rule(workspace: Workspace) -> None:
    text = workspace.model_path.read_text(encoding="utf-8")
    start = text.index("\nexpansion:")
    end = text.index("\nbands:")
    workspace.model_path.write_text(text[:start] + "\n" + text[end:], encoding="utf-8")
    model = load_model(workspace.model_path)
    with pytest.raises(VitalsignError, match="no `expansion:` score"):
        alert_config("rules:\n  up: {type: expansion_candidate}\n", model)
