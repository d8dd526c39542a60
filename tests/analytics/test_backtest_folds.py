"""A backtest says how its figures were obtained: per date or account fold, pooled, in-sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vitalsign.analytics.backtest import BacktestReport, evaluate_history, run_backtest
from vitalsign.analytics.calibrate import calibrate
from vitalsign.analytics.datasets.saas_churn import load_saas_churn
from vitalsign.analytics.folds import trained_dates
from vitalsign.analytics.history import history_from_scored
from vitalsign.analytics.outcomes import read_outcomes
from vitalsign.engine.run import compute_scores, score
from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.rendering import to_text
from vitalsign.store.workspace import Workspace, init_workspace

SAAS = Path(__file__).parents[1] / "fixtures" / "saas_churn" / "churn.csv"


@pytest.fixture(scope="module")
def report(demo_workspace: Workspace) -> BacktestReport:
    """The starter model's backtest on the demo world (no leak check)."""
    return run_backtest(demo_workspace, replicates=50, leak_dates=0)


def test_a_fixed_model_is_out_of_sample_with_its_spread_over_dates(report: BacktestReport) -> None:
    folds = report.folds
    assert folds is not None and folds.method == "snapshot dates"
    assert [f["fold"] for f in folds.folds] == [d.isoformat() for d in report.by_date["as_of"]]
    assert folds.spread.mean == pytest.approx(float(np.mean(report.by_date["auc"])), abs=1e-6)
    assert folds.spread.low <= report.roc_auc.value + 0.05
    assert report.sample.startswith("out of sample")
    assert report.to_dict()["folds"]["auc_over_folds"]["folds"] == len(report.by_date)
    from vitalsign.analytics.renderables import backtest_renderable

    text = to_text(backtest_renderable(report), width=160)
    assert "over snapshot dates" in text and "mean ± sd" in text


def test_one_snapshot_date_is_spread_over_account_folds(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "saas")
    info = load_saas_churn(workspace, SAAS)
    model = workspace.load_model(info.model_path)
    score(workspace, info.snapshot, model)
    result = run_backtest(
        workspace, model, info.horizon_days, 20, until=info.observed_until, leak_dates=0
    )
    workspace.close()
    folds = result.folds
    assert folds is not None and folds.method == "account folds" and len(folds.folds) == 5
    assert sum(f["rows"] for f in folds.folds) == result.counts["evaluated"]
    assert folds.spread.low <= result.roc_auc.value <= folds.spread.high


def test_a_calibrated_proposal_is_backtested_in_sample_on_its_training_dates(
    demo_workspace: Workspace, bad_model: LoadedModel, tmp_path: Path
) -> None:
    result = calibrate(demo_workspace, bad_model, output=tmp_path / "p.yml", replicates=20)
    proposal = load_model(tmp_path / "p.yml")
    assert result.comparison.sample.kind == "out-of-sample"  # old and new on the test dates
    assert result.to_dict()["comparison"]["sample"] == "out-of-sample"
    assert trained_dates(proposal) == (
        result.validation.train_dates[0],
        result.validation.train_dates[-1],
    )
    dates = sorted(set(result.validation.train_dates) | set(result.validation.test_dates))
    history = history_from_scored(compute_scores(demo_workspace.backend, proposal, dates), proposal)
    report = evaluate_history(history, read_outcomes(demo_workspace.duckdb), 90, 50, leak_dates=0)
    folds = report.folds
    assert folds is not None and folds.trained is not None
    assert folds.in_sample_rows > 0 and folds.out_of_sample_auc is not None
    assert report.sample.startswith("IN-SAMPLE")
    assert str(result.validation.train_dates[-1]) in report.sample
    assert trained_dates(bad_model) is None  # a hand-written model is out of sample


def test_the_html_report_says_how_its_figures_were_obtained(report: BacktestReport) -> None:
    from vitalsign.analytics.html_report import render_html

    page = render_html(report)
    assert f"over snapshot dates: {report.folds.spread}" in page  # type: ignore[union-attr]
    assert "out of sample: the model&#39;s points and weights are fixed" in page or (
        "out of sample: the model's points and weights are fixed" in page
    )
    assert "churn in [T, T + 90 days)" in page
