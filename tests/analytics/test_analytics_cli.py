"""The analytics commands end to end: backtest, calibrate, diff and outcomes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitalsign.analytics.datasets.tables import write_tables
from vitalsign.cli import app, main
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.store.workspace import Workspace, init_workspace

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_backtest_prints_json_and_writes_the_html_report(
    demo_workspace: Workspace, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    out = _run("backtest", "--json", "--html", str(html), "--horizon", "90d", "--bootstrap", "20",
               "--leak-dates", "0", "-w", str(demo_workspace.root))  # fmt: skip
    payload = json.loads(out)
    assert payload["horizon_days"] == 90
    assert payload["roc_auc"]["value"] > 0.6
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_backtest_prints_a_readable_summary(demo_workspace: Workspace) -> None:
    out = _run("backtest", "--bootstrap", "20", "--leak-dates", "0", "-w", str(demo_workspace.root))
    assert "ROC-AUC" in out and "Churn per band" in out and "Cohen's kappa" in out


def test_calibrate_writes_a_proposal_and_diff_compares_it(
    demo_workspace: Workspace, tmp_path: Path
) -> None:
    proposal = tmp_path / "bad.proposed.yml"
    root = str(demo_workspace.root)
    out = _run("calibrate", "-m", "models/bad.yml", "-o", str(proposal), "--alert-share", "0.1",
               "--bootstrap", "20", "--json", "-w", root)  # fmt: skip
    payload = json.loads(out)
    assert payload["proposed"]["path"] == str(proposal)
    assert payload["validation"]["new_auc"]["value"] > payload["validation"]["old_auc"]["value"]
    assert "band shares" in payload["bands"]["rule"] and "red 10%" in payload["bands"]["rule"]
    dates = snapshot_dates(demo_workspace.duckdb, "bad")
    text = _run("diff", str(demo_workspace.root / "models" / "bad.yml"), str(proposal),
                "--from", dates[-9].isoformat(), "--to", dates[-5].isoformat(), "--every", "21d",
                "--bootstrap", "20", "-w", root)  # fmt: skip
    assert "ROC-AUC" in text and "change band" in text


def test_outcomes_are_derived_from_subscriptions_and_stored(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    import pandas as pd

    subscriptions = pd.DataFrame(
        {"subscription_id": ["s1", "s2"], "account_id": ["A", "B"],
         "started_at": pd.to_datetime(["2024-01-01", "2024-01-01"]),
         "ended_at": pd.to_datetime(["2024-02-01", None]), "status": ["canceled", "active"],
         "mrr": [10.0, 20.0]}
    )  # fmt: skip
    write_tables(workspace.duckdb, {"subscriptions": subscriptions})
    workspace.close()
    out = _run("outcomes", "--derive", "--write", "--json", "-w", str(tmp_path / "ws"))
    assert json.loads(out) == {
        "source": "derived from subscriptions", "data_end": "2024-02-01T00:00:00",
        "counts": {"churned": 1}, "pending": 0, "written": 1,
    }  # fmt: skip
    assert "Outcomes (outcomes table): 1 churned" in _run("outcomes", "-w", str(tmp_path / "ws"))


def test_a_backtest_without_outcomes_is_one_line_and_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    init_workspace(tmp_path / "ws").close()
    monkeypatch.setattr(sys, "argv", ["vitalsign", "backtest", "-w", str(tmp_path / "ws")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "no data yet" in err
