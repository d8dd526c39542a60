"""`vitalsign alerts list` groups alerts by account, with ARR: most severe, then largest ARR."""

from __future__ import annotations

import json

from alert_history import alert_config, day, write_day
from typer.testing import CliRunner

from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.cli import app
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

RULES = """
baseline: false  # these tests exercise the listing, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  low: {type: score_below, value: 50, severity: warning}
  champion: {type: flag_raised, severity: warning}
  gate: {type: gate_failed, severity: critical}
"""


def _three_accounts(ws: Workspace, model: LoadedModel) -> str:
    """Acme ($12,000) has 3 alerts, one critical; Beta ($90,000) and Cato ($3,000) one each."""
    write_day(
        ws.duckdb,
        model,
        day(0),
        {
            "A": {"score": 30, "flags": ["champion_left"], "gate": False},
            "B": {"score": 45},
            "C": {"score": 20},
        },
    )
    evaluate_alerts(ws.duckdb, alert_config(RULES, model), model, day(0), notify=False)
    root = str(ws.root)
    ws.close()
    return root


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_list_shows_each_account_once_with_its_arr(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    root = _three_accounts(tiny_workspace, tiny_model)
    text = _run("alerts", "list", "-w", root)
    assert text.count("(A)") == 1, text
    assert "accounts 1–3 of 3, 5 alerts" in text
    assert "$12,000" in text and "$90,000" in text and "$3,000" in text
    # the critical account first, then the warnings by ARR
    assert text.index("(A)") < text.index("(B)") < text.index("(C)")
    listed = json.loads(_run("alerts", "list", "--format", "json", "-w", root))
    assert listed["total"] == 5 and listed["accounts"] == 3
    groups = listed["groups"]
    assert [(g["account_id"], g["arr"], g["worst"]) for g in groups] == [
        ("A", 12000.0, "critical"),
        ("B", 90000.0, "warning"),
        ("C", 3000.0, "warning"),
    ]
    assert sorted(a["rule"] for a in groups[0]["alerts"]) == ["champion", "gate", "low"]
    assert [a["account_id"] for a in listed["items"]] == ["A", "A", "A", "B", "C"]


def test_the_list_pages_by_account(tiny_workspace: Workspace, tiny_model: LoadedModel) -> None:
    root = _three_accounts(tiny_workspace, tiny_model)
    second = json.loads(
        _run("alerts", "list", "--limit", "1", "--offset", "1", "--format", "json", "-w", root)
    )
    assert [g["account_id"] for g in second["groups"]] == ["B"]
    assert "accounts 2–2 of 3, 5 alerts" in _run(
        "alerts", "list", "--limit", "1", "--offset", "1", "-w", root
    )
    one = _run("alerts", "list", "--account", "C", "-w", root)
    assert "accounts 1–1 of 1, 1 alert)" in one
