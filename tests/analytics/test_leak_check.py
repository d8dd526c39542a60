"""Future information injected into a signal is caught by the leak check the backtest runs."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from histories import snapshot_dates

from vitalsign.analytics.backtest import BacktestReport, run_backtest
from vitalsign.analytics.datasets.tables import write_tables
from vitalsign.demo.world import generate_world, write_world
from vitalsign.engine.run import backfill
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.workspace import Workspace, init_workspace

CLEAN = """
name: {name}
signals:
  logins_30d: {{table: events, aggregate: count, filter: "event == 'login'", window: 30d,
               scale: {{type: linear, low: 0, high: 40}}}}
  nps_latest: {{table: surveys, aggregate: latest, column: score, filter: "kind == 'nps'",
               window: 365d, scale: {{type: linear, low: 0, high: 10}}}}
  csm_rating: {{table: csm_ratings, aggregate: latest, column: rating, window: 120d,
               scale: {{type: categorical, map: {{green: 100, yellow: 50, red: 0}}}}}}
{extra}
scorecards:
  default:
    health:
      signals: {{logins_30d: 1, nps_latest: 1, csm_rating: 1{member}}}
bands:
  - {{name: green, min: 70}}
  - {{name: yellow, min: 40}}
  - {{name: red, min: 0}}
"""
LEAKS = {
    # a CRM field filled in after the fact and back-dated: the outcome, disguised as history
    "doomed": "  doomed: {table: business_events, aggregate: count, filter: \"kind == 'at_risk'\","
    " window: 3650d, scale: {type: boolean, if_true: 0, if_false: 100}}",
    # today's accounts row: churned_at is only known after the churn
    "still_here": '  still_here: {attribute: "is_null(churned_at)",'
    " scale: {type: boolean, if_true: 100, if_false: 0}}",
    # the outcomes table itself
    "churns_30d": "  churns_30d: {table: outcomes, aggregate: count, filter: \"kind == 'churned'\","
    " window: 30d, scale: {type: boolean, if_true: 0, if_false: 100}}",
}


def _model(name: str, leak: str | None = None) -> LoadedModel:
    extra = LEAKS[leak] if leak else ""
    member = f", {leak}: 1" if leak else ""
    return parse_model(CLEAN.format(name=name, extra=extra, member=member))


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A small world where every future churner got an `at_risk` event dated at its creation."""
    world = generate_world(accounts=250, seed=8)
    workspace = init_workspace(tmp_path_factory.mktemp("leak") / "ws")
    write_world(world, workspace.duckdb)
    accounts = world.tables["accounts"]
    doomed = accounts[accounts["churned_at"].notna()]
    events = pd.DataFrame(
        {"account_id": doomed["account_id"], "occurred_at": doomed["created_at"], "kind": "at_risk"}
    )
    write_tables(workspace.duckdb, {"business_events": events})
    dates = snapshot_dates(world, every_days=35)
    for name, leak in (("clean", None), *((f"with_{k}", k) for k in LEAKS)):
        backfill(workspace, dates, _model(name, leak), show_progress=False)
    yield workspace
    workspace.close()


def _backtest(workspace: Workspace, name: str, leak: str | None) -> BacktestReport:
    return run_backtest(workspace, _model(name, leak), replicates=100, leak_dates=1)


def test_the_clean_model_raises_no_suspicion(leaky: Workspace) -> None:
    report = _backtest(leaky, "clean", None)
    assert not report.leaks.suspected, report.leaks.findings
    assert 0.6 < report.roc_auc.value < 0.95


def test_a_back_dated_outcome_makes_the_auc_jump_and_is_caught(leaky: Workspace) -> None:
    clean = _backtest(leaky, "clean", None)
    report = _backtest(leaky, "with_doomed", "doomed")
    assert report.roc_auc.value > clean.roc_auc.value + 0.1
    assert report.leaks.suspected
    checks = {(f.check, f.subject) for f in report.leaks.findings}
    assert ("too good to be true", "doomed") in checks
    assert ("AUC jump", "doomed") in checks
    jump = report.leaks.drop_one.set_index("signal").loc["doomed", "jump"]
    assert jump >= 0.1


def test_a_signal_reading_churned_at_is_caught_statically_and_by_removing_future_rows(
    leaky: Workspace,
) -> None:
    report = _backtest(leaky, "with_still_here", "still_here")
    checks = {(f.check, f.subject) for f in report.leaks.findings}
    assert ("reads the outcome", "still_here") in checks
    assert ("future rows", "still_here") in checks
    assert not {s for c, s in checks if c == "future rows"} - {"still_here"}


def test_a_signal_reading_the_outcomes_table_is_caught(leaky: Workspace) -> None:
    report = _backtest(leaky, "with_churns_30d", "churns_30d")
    assert ("reads the outcome", "churns_30d") in {
        (f.check, f.subject) for f in report.leaks.findings
    }


def test_the_leak_check_is_in_the_json_report(leaky: Workspace) -> None:
    leak = _backtest(leaky, "with_doomed", "doomed").to_dict()["leak_check"]
    assert leak["suspected"] is True
    assert any(f["subject"] == "doomed" for f in leak["findings"])
