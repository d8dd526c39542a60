"""The expansion backtest on the small demo world: does the expansion score find who grew?"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from histories import permuted
from typer.testing import CliRunner

from vitalsign.analytics.expansion import evaluate_growth
from vitalsign.analytics.expansion_report import growth_renderable, run_growth_backtest
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.outcomes import Outcomes, read_outcomes
from vitalsign.cli import app
from vitalsign.errors import BacktestError
from vitalsign.store.expansion import read_expansion_history
from vitalsign.store.workspace import Workspace

REPLICATES = 40


@pytest.fixture(scope="module")
def inputs(demo_workspace: Workspace) -> tuple[History, Outcomes, pd.DataFrame]:
    """The demo world's stored history, outcomes and expansion scores, read once."""
    model = demo_workspace.load_model()
    return (
        read_history(demo_workspace.duckdb, model),
        read_outcomes(demo_workspace.duckdb),
        read_expansion_history(demo_workspace.duckdb, model.name),
    )


def test_the_starter_expansion_score_ranks_the_accounts_that_grew(
    demo_workspace: Workspace,
) -> None:
    report = run_growth_backtest(demo_workspace, replicates=REPLICATES)
    assert report.score_kind == "expansion" and report.other_kind == "health"
    assert report.counts["positives"] > 20
    assert report.roc_auc.low > 0.6  # far from chance (0.5)
    first, last = report.quintiles.iloc[0], report.quintiles.iloc[-1]
    assert first["rate"] > report.base_rate > last["rate"]  # likeliest fifth grows most
    assert report.quintiles["rows"].sum() == report.counts["evaluated"]
    signals = report.signals.set_index(["score", "signal"])
    model = demo_workspace.load_model().spec
    assert model.expansion is not None
    for name in model.expansion.signals:  # each expansion signal, its points read back
        assert 0 < signals.loc[("expansion", name), "coverage"] <= 1
    assert signals.loc[("expansion", "renewal_due"), "auc"] > 0.6  # the demo's cause
    assert ("health", "logins_30d") in signals.index
    payload = report.to_dict()
    assert payload["score"] == "expansion" and payload["window"] == "[T, T + 90 days)"
    assert payload["other"]["score"] == "health"


def test_expansion_given_to_random_accounts_is_chance(
    inputs: tuple[History, Outcomes, pd.DataFrame],
) -> None:
    history, outcomes, expansion = inputs
    shuffled = permuted(outcomes)
    report = evaluate_growth(history, shuffled, expansion, replicates=REPLICATES)
    assert report.roc_auc.contains(0.5) or abs(report.roc_auc.value - 0.5) < 0.06


def test_contraction_reads_the_health_score_lower_is_likelier(
    inputs: tuple[History, Outcomes, pd.DataFrame],
) -> None:
    history, outcomes, expansion = inputs
    report = evaluate_growth(history, outcomes, expansion, "contracted", replicates=REPLICATES)
    assert report.score_kind == "health"
    assert report.roc_auc.value > 0.55  # unhealthy accounts shrink in the demo world
    text = str(growth_renderable(report).renderables[0])  # the head grid renders
    assert text


def test_without_an_expansion_section_the_health_score_is_tested(
    inputs: tuple[History, Outcomes, pd.DataFrame],
) -> None:
    history, outcomes, _ = inputs
    report = evaluate_growth(history, outcomes, None, replicates=REPLICATES)
    assert report.score_kind == "health" and report.other_kind is None
    with pytest.raises(BacktestError, match="expansion:"):
        evaluate_growth(history, outcomes, None, score_kind="expansion", replicates=REPLICATES)


def test_the_cli_backtests_expansion_as_json(demo_workspace: Workspace) -> None:
    root = str(demo_workspace.root)
    args = ["backtest", "-w", root, "--outcome", "expanded", "--bootstrap", "20", "--json"]
    result = CliRunner().invoke(app, [*args, "--min-change", "20%"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["outcome"] == "expanded" and payload["min_change"] == pytest.approx(0.2)
    assert payload["score"] == "expansion" and payload["counts"]["positives"] > 0
    refused = CliRunner().invoke(app, ["backtest", "-w", root, "--outcome", "grew"])
    assert refused.exit_code != 0
    assert "churned, expanded or contracted" in str(refused.exception)
