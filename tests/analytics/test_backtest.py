"""Honesty on the demo world: real signal is found, random outcomes are not, bands make sense."""

from __future__ import annotations

import json

import pytest
from histories import permuted

from vitalsign.analytics.backtest import BacktestReport, evaluate_history, run_backtest
from vitalsign.analytics.history import read_history
from vitalsign.analytics.outcomes import read_outcomes
from vitalsign.store.workspace import Workspace


@pytest.fixture(scope="module")
def report(demo_workspace: Workspace) -> BacktestReport:
    """The starter model's backtest on the demo world (with the leak check)."""
    return run_backtest(demo_workspace, replicates=200, leak_dates=1)


def test_the_backtest_finds_the_real_signal_of_the_demo_world(report: BacktestReport) -> None:
    assert report.roc_auc.low > 0.65
    assert report.pr_auc.low > report.base_rate  # better than chance at finding churners
    assert report.counts["churned"] > 100
    assert report.outcomes_source == "outcomes table"


def test_on_random_outcomes_the_auc_interval_contains_one_half(demo_workspace: Workspace) -> None:
    history = read_history(demo_workspace.duckdb, demo_workspace.load_model())
    random = permuted(read_outcomes(demo_workspace.duckdb))
    shuffled = evaluate_history(history, random, replicates=200, leak_dates=0)
    assert shuffled.roc_auc.contains(0.5)
    assert shuffled.roc_auc.high - shuffled.roc_auc.low < 0.2  # an interval, not a shrug


def test_worse_bands_churn_more_by_count_and_by_arr(report: BacktestReport) -> None:
    bands = report.bands.set_index("band")
    assert report.monotone
    assert (
        bands.loc["red", "churn_rate"]
        > bands.loc["yellow", "churn_rate"]
        > bands.loc["green", "churn_rate"]
    )
    assert bands.loc["red", "lift"] > 2 > 1 > bands.loc["green", "lift"]
    assert bands.loc["red", "arr_churn_rate"] > bands.loc["green", "arr_churn_rate"]
    assert bands["rows"].sum() == report.counts["labelled"]


def test_kaplan_meier_curves_fall_fastest_for_the_worst_band(report: BacktestReport) -> None:
    at_horizon = report.survival.at_horizon.set_index("band")
    assert at_horizon.loc["red", "survival"] < at_horizon.loc["yellow", "survival"]
    assert at_horizon.loc["yellow", "survival"] < at_horizon.loc["green", "survival"]
    curves = report.survival.curves
    green = curves[curves["band"] == "green"]["survival"].to_numpy()
    assert green[0] == 1.0 and (green[1:] <= green[:-1]).all()


def test_each_signal_has_its_own_auc_and_none_points_the_wrong_way(report: BacktestReport) -> None:
    signals = report.signals.set_index("signal")
    assert not signals["wrong_direction"].any()
    assert signals.loc["key_actions_30d", "churners_have"] == "lower"
    assert signals.loc["key_actions_30d", "scale_rewards"] == "higher"
    assert signals.loc["failed_payment_share_90d", "churners_have"] == "higher"
    assert signals.loc["failed_payment_share_90d", "scale_rewards"] == "lower"
    assert signals.loc["csm_rating", "points_auc"] > 0.6


def test_a_history_mixing_model_versions_is_reported(demo_workspace: Workspace) -> None:
    model = demo_workspace.load_model()
    scored = run_backtest(demo_workspace, model, replicates=0, leak_dates=0)
    assert scored.model_hashes == (model.hash,)
    assert not [n for n in scored.notes if "versions" in n]


def test_csm_ratings_are_compared_with_the_bands(report: BacktestReport) -> None:
    csm = report.csm
    assert csm is not None
    assert int(csm.confusion.to_numpy().sum()) == csm.rows
    assert 0.2 < csm.kappa < 0.9  # they agree, but not completely
    assert csm.verdict.startswith(("the score", "the CSMs", "no clear"))
    assert csm.score_auc.value > csm.csm_auc.value  # the demo's ratings lag and are noisy


def test_a_clean_model_raises_no_leak_suspicion(report: BacktestReport) -> None:
    assert not report.leaks.suspected, report.leaks.findings
    assert report.leaks.truncation_accounts > 0
    # the attribute signals that read today's accounts row (renewal_due: the expansion score's)
    assert {c.subject for c in report.leaks.cautions} == {"seats", "days_to_renewal", "renewal_due"}


def test_the_json_form_holds_every_section(report: BacktestReport) -> None:
    payload = json.loads(json.dumps(report.to_dict()))
    assert {"roc_auc", "pr_auc", "bands", "bands_monotone", "survival", "signals", "csm",
            "leak_check", "by_date", "counts"} <= set(payload)  # fmt: skip
    assert payload["roc_auc"]["low"] < payload["roc_auc"]["value"] < payload["roc_auc"]["high"]
