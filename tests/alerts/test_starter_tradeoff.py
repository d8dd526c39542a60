"""The starter alerts.yml's trade-off: a first week in red alerts at once, a dip does not.

On the demo's replayed year (docs/alerts.md, "Measured on the demo's replayed year") a
score-drop rule fired on weekly noise; the starter alerts on risk instead: `entered_red` on
the first snapshot, `renewal_at_risk` once per renewal (tests/alerts/test_renewal_risk.py),
and five silent weeks for `usage_went_quiet`.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

from alert_history import alert_config, day, write_day

from vitalsign.alerts.evaluation import evaluate_history
from vitalsign.model.loader import load_model
from vitalsign.model.spec import parse_days
from vitalsign.store.workspace import Workspace


def _starter_text() -> str:
    return resources.files("vitalsign.alerts").joinpath("starter_alerts.yml").read_text("utf-8")


def test_the_starter_rules_alert_a_single_week_in_red(workspace: Workspace) -> None:
    model = load_model(workspace.model_path)
    weeks = [80.0, 81.0, 79.0, 35.0, 80.0, 82.0]  # one week in red, 44 points down
    for week, score in enumerate(weeks):
        write_day(workspace.duckdb, model, day(7 * week), {"A": {"score": score}})
    config = alert_config(_starter_text(), model)
    evaluate_history(workspace.duckdb, config, model, day(0), day(60), notify=False)
    opened = workspace.duckdb.execute(
        "SELECT rule, CAST(snapshot_date AS VARCHAR) FROM alerts WHERE account_id = 'A' "
        "ORDER BY rule"
    ).fetchall()
    assert opened == [("entered_red", day(21).isoformat())]  # the 44-point dip itself: no


def test_the_starter_has_no_score_drop_rule(workspace: Workspace) -> None:
    config = alert_config(_starter_text(), load_model(workspace.model_path))
    assert not [r for r in config.rules.values() if r.type == "score_dropped"]


def test_the_starter_waits_five_silent_weeks_before_usage_went_quiet(
    workspace: Workspace,
) -> None:
    config = alert_config(_starter_text(), load_model(workspace.model_path))
    quiet = config.rules["usage_went_quiet"]
    assert quiet.type == "data_stale" and quiet.days == "35d"


def test_the_measured_figures_name_the_starter_they_were_measured_with(
    workspace: Workspace,
) -> None:
    """Changing the starter's thresholds means measuring again (bench/alerts.py)."""
    doc = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text("utf-8")
    measured = doc[doc.index("### Measured on the demo's replayed year") :]
    measured = measured[: measured.index("\n## ")]
    rules = alert_config(_starter_text(), load_model(workspace.model_path)).rules
    days = parse_days(rules["usage_went_quiet"].days)
    assert f"`usage_went_quiet` waits {days} days" in measured
    red = rules["entered_red"]
    assert red.persistence == 1 and "`entered_red`" in measured
    assert f"`entered_red` {red.cooldown_days}-day cooldown" in measured
    risk = rules["renewal_at_risk"]
    assert risk.type == "score_below" and risk.persistence == 2
    assert risk.renewal_within is not None
    within = parse_days(risk.renewal_within)
    assert f"below {risk.value:g} renewing within {within} days" in measured
    upsell = rules["upsell_candidate"]
    assert upsell.type == "expansion_candidate" and upsell.reminder and upsell.playbook is None


def _renews(workspace: Workspace, renewals: dict[str, dt.date]) -> None:
    workspace.duckdb.execute("DELETE FROM accounts")
    for account, renewal in renewals.items():
        workspace.duckdb.execute(
            "INSERT INTO accounts (account_id, name, created_at, renewal_date) "
            "VALUES (?, ?, TIMESTAMP '2020-01-01', ?)",
            [account, account, renewal],
        )


def test_the_starter_s_minor_risks_alert_only_before_a_renewal(workspace: Workspace) -> None:
    """champion_left and the gate speak for accounts renewing within 90 days only."""
    model = load_model(workspace.model_path)
    _renews(workspace, {"A": day(200), "B": day(60)})  # A renews in 200 days, B in 60
    green = {"score": 80.0}
    hit = {"score": 80.0, "flags": ["champion_left"], "gate": False}
    for week, (a, b) in enumerate([(green, green), (hit, hit), (hit, hit)]):
        write_day(workspace.duckdb, model, day(7 * week), {"A": a, "B": b})
    config = alert_config(_starter_text(), model)
    evaluate_history(workspace.duckdb, config, model, day(0), day(30), notify=False)
    opened = workspace.duckdb.execute(
        "SELECT account_id, rule FROM alerts ORDER BY account_id, rule"
    ).fetchall()
    assert opened == [("B", "champion_left"), ("B", "not_billed")]


def test_the_starter_does_not_alert_red_again_within_90_days(workspace: Workspace) -> None:
    model = load_model(workspace.model_path)
    # red on day 7, back, red again on day 21 (7 days after the alert resolved), back; red
    # on day 126 (112 days after)
    days = {0: 80.0, 7: 35.0, 14: 80.0, 21: 35.0, 28: 80.0, 126: 35.0}
    for when, score in days.items():
        write_day(workspace.duckdb, model, day(when), {"A": {"score": score}})
    config = alert_config(_starter_text(), model)
    evaluate_history(workspace.duckdb, config, model, day(0), day(126), notify=False)
    opened = workspace.duckdb.execute(
        "SELECT CAST(snapshot_date AS VARCHAR) FROM alerts WHERE rule = 'entered_red' "
        "ORDER BY snapshot_date"
    ).fetchall()
    assert opened == [(day(7).isoformat(),), (day(126).isoformat(),)]
