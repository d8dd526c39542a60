"""Alerts people keep on: hysteresis, persistence, the first-run baseline, reminder digests."""

from __future__ import annotations

import datetime as dt

from alert_history import alert_config, day, write_day
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.alerts.digest import digest_content, enqueue_digests
from vitalsign.alerts.evaluation import evaluate_alerts, evaluate_history
from vitalsign.alerts.messages import digest_lines
from vitalsign.alerts.stats import alert_stats
from vitalsign.alerts.steadiness import cadence_days, default_persistence
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace
from world import ts

LOW = """
baseline: false
rules:
  low:
    type: score_below
    value: 40
    persistence: {persistence}
    margin: {margin}
"""


def _weeks(ws: Workspace, model: LoadedModel, scores: list[float]) -> None:
    for week, value in enumerate(scores):
        write_day(ws.duckdb, model, day(7 * week), {"A": {"score": value}, "B": {"score": 90}})


def _replay(ws: Workspace, model: LoadedModel, text: str) -> list[tuple[str, str, str | None]]:
    """Evaluate every snapshot; return (rule, opened on, resolved on) per alert of A."""
    evaluate_history(ws.duckdb, alert_config(text, model), model, day(0), day(400), notify=False)
    rows = ws.duckdb.execute(
        "SELECT rule, CAST(snapshot_date AS VARCHAR), CAST(resolved_date AS VARCHAR) "
        "FROM alerts WHERE account_id = 'A' ORDER BY snapshot_date"
    ).fetchall()
    return [(str(r), str(o), None if c is None else str(c)) for r, o, c in rows]


def test_without_hysteresis_a_wobbling_score_opens_and_resolves_every_other_week(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _weeks(tiny_workspace, tiny_model, [38, 42, 38, 42, 38])
    text = LOW.format(persistence=1, margin=0).replace("value: 40", "value: 40\n    cooldown: 0")
    alerts = _replay(tiny_workspace, tiny_model, text)
    assert [a[1] for a in alerts] == [day(0).isoformat(), day(14).isoformat(), day(28).isoformat()]


def test_with_a_margin_the_alert_stays_open_until_the_score_clears_it(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _weeks(tiny_workspace, tiny_model, [38, 42, 38, 44, 46])
    text = LOW.format(persistence=1, margin=5).replace("value: 40", "value: 40\n    cooldown: 0")
    alerts = _replay(tiny_workspace, tiny_model, text)
    assert alerts == [("low", day(0).isoformat(), day(28).isoformat())]  # 46 >= 40 + 5


def test_persistence_opens_an_alert_only_after_n_consecutive_snapshots(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _weeks(tiny_workspace, tiny_model, [60, 35, 60, 35, 35, 35])
    assert _replay(tiny_workspace, tiny_model, LOW.format(persistence=2, margin=0)) == [
        ("low", day(28).isoformat(), None)  # the one-week dip on day 7 alerted nobody
    ]


def test_band_entered_with_persistence_keeps_the_values_of_the_change(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _weeks(tiny_workspace, tiny_model, [80, 30, 80, 30, 32, 33])
    text = "baseline: false\nrules:\n  red: {type: band_entered, bands: [red], persistence: 3}\n"
    evaluate_history(
        tiny_workspace.duckdb, alert_config(text, tiny_model), tiny_model, day(0), day(40)
    )
    row = tiny_workspace.duckdb.execute(
        "SELECT snapshot_date, summary FROM alerts WHERE account_id = 'A'"
    ).fetchall()
    assert row == [(day(35), "entered red (was green)")]


def test_band_entered_hysteresis_keeps_a_red_alert_open_just_above_the_edge(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _weeks(tiny_workspace, tiny_model, [80, 30, 43, 46])
    text = "baseline: false\nrules:\n  red: {type: band_entered, bands: [red], persistence: 1}\n"
    assert _replay(tiny_workspace, tiny_model, text) == [
        ("red", day(7).isoformat(), day(21).isoformat())  # 43 is yellow but within 5 of red
    ]


def test_the_first_evaluation_records_a_baseline_and_alerts_nobody(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 20}, "B": {"score": 20}, "C": {"score": 90}})
    write_day(con, tiny_model, day(7), {"A": {"score": 20}, "B": {"score": 60}, "C": {"score": 20}})
    write_day(
        con, tiny_model, day(14), {"A": {"score": 20}, "B": {"score": 20}, "C": {"score": 20}}
    )
    config = alert_config(
        "rules:\n  low: {type: score_below, value: 40, persistence: 1}\n", tiny_model
    )
    first = evaluate_alerts(con, config, tiny_model, day(0))
    assert (
        first.opened == [] and first.baseline == 2 and "2 recorded as the baseline" in first.line()
    )
    second = evaluate_alerts(con, config, tiny_model, day(7))
    opened = {r[0] for r in con.execute("SELECT account_id FROM alerts").fetchall()}
    assert len(second.opened) == 1 and opened == {"C"}  # A still known; B left the baseline
    evaluate_alerts(con, config, tiny_model, day(14))
    opened = {r[0] for r in con.execute("SELECT account_id FROM alerts").fetchall()}
    assert opened == {"B", "C"}  # B came back: news; A never left: still no alert


def test_a_rule_added_later_gets_its_own_baseline(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    _weeks(tiny_workspace, tiny_model, [20, 20])
    one = "rules:\n  low: {type: score_below, value: 40, persistence: 1}\n"
    evaluate_alerts(con, alert_config(one, tiny_model), tiny_model, day(0))
    two = one + "  lower: {type: score_below, value: 30, persistence: 1}\n"
    report = evaluate_alerts(con, alert_config(two, tiny_model), tiny_model, day(7))
    assert report.opened == [] and report.baseline == 1 and report.kept == 0


def test_csm_rating_reminders_are_one_digest_line_per_owner_not_alerts(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    con.execute(
        "INSERT INTO csm_ratings (account_id, rated_at, rating) VALUES ('D', ?, 'green')",
        [ts(-10)],
    )
    write_day(con, tiny_model, day(14), {"A": {}, "B": {}, "C": {}})
    text = "rules:\n  rate_me: {type: csm_rating_stale, days: 30d}\n"
    config = alert_config(text, tiny_model)
    report = evaluate_alerts(con, config, tiny_model, day(14))
    assert report.opened == [] and report.reminders == 3
    assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    content = digest_content(con, "tiny", "ann", "weekly", day(14), None, config=config)
    [line] = content["reminders"]
    assert line["count"] == 2 and set(line["account_ids"]) == {"A", "C"}
    assert line["text"].startswith("2 accounts need a CSM rating") and "Acme" in line["text"]
    built = enqueue_digests(con, config, "tiny", day(14), now=dt.datetime(2024, 3, 18, 6))
    owners = sorted(d["owner"] for d in built.digests)
    assert owners == ["ann", "bob"]  # immediate owners get their reminders in a digest
    assert any("Reminders:" in line for line in digest_lines(built.digests[0]))


def test_a_reminder_resolves_when_the_account_is_rated(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    con.execute(
        "INSERT INTO csm_ratings (account_id, rated_at, rating) VALUES ('D', ?, 'green')",
        [ts(-10)],
    )
    write_day(con, tiny_model, day(14), {"A": {}, "B": {}, "C": {}})
    write_day(con, tiny_model, day(21), {"A": {}, "B": {}, "C": {}})
    config = alert_config("rules:\n  rate_me: {type: csm_rating_stale, days: 30d}\n", tiny_model)
    evaluate_alerts(con, config, tiny_model, day(14))
    con.execute(
        "INSERT INTO csm_ratings (account_id, rated_at, rating) VALUES ('C', ?, 'yellow')",
        [dt.datetime.combine(day(15), dt.time(9))],
    )
    assert evaluate_alerts(con, config, tiny_model, day(21)).reminders == 2
    resolved = con.execute(
        "SELECT account_id, resolved_date FROM reminders WHERE resolved_date IS NOT NULL"
    ).fetchall()
    assert resolved == [("C", day(21))]


def test_the_default_persistence_follows_the_cadence() -> None:
    weekly = [day(7 * n) for n in range(6)]
    daily = [day(n) for n in range(10)]
    assert cadence_days(weekly) == 7 and default_persistence(cadence_days(weekly)) == 2
    assert cadence_days(daily) == 1 and default_persistence(cadence_days(daily)) == 4
    assert default_persistence(30) == 1 and cadence_days([day(0)]) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=60))
def test_persistence_never_asks_for_more_than_a_few_days_of_waiting(cadence: int) -> None:
    n = default_persistence(cadence)
    assert n >= 1
    assert n == 1 or (n - 1) * cadence <= max(4, cadence)  # the wait spans about four days


def test_stats_count_the_alerts_opened_and_resolved_per_evaluated_snapshot(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    _weeks(tiny_workspace, tiny_model, [38, 42, 38, 42])
    text = LOW.format(persistence=1, margin=0).replace("value: 40", "value: 40\n    cooldown: 0")
    _replay(tiny_workspace, tiny_model, text)
    stats = alert_stats(tiny_workspace.duckdb)
    assert stats.opened_per_run == [1, 0, 1, 0] and stats.resolved_per_run == [0, 1, 0, 1]
    assert stats.per_run_line().startswith("per evaluated snapshot: opened 0–1 (median 0.5)")


def test_data_stale_waits_for_persistence_only_when_asked(tiny_model: LoadedModel) -> None:
    from vitalsign.alerts.steadiness import persistence_of

    rules = alert_config(
        "rules:\n  quiet: {type: data_stale, table: events, days: 14d}\n"
        "  long: {type: data_stale, table: events, days: 14d, persistence: 2}\n"
        "  low: {type: score_below, value: 40}\n",
        tiny_model,
    ).rules
    assert persistence_of(rules["quiet"], 7) == 1 and persistence_of(rules["long"], 7) == 2
    assert persistence_of(rules["low"], 7) == 2 and persistence_of(rules["low"], 7, 3) == 3


def test_a_workspace_that_alerted_before_baselines_existed_keeps_alerting(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    _weeks(tiny_workspace, tiny_model, [80, 20])
    config = alert_config(
        "rules:\n  low: {type: score_below, value: 40, persistence: 1}\n", tiny_model
    )
    evaluate_alerts(con, config, tiny_model, day(0))
    con.execute("DELETE FROM alert_rules_seen")  # as an older version left it: runs, no rules seen
    report = evaluate_alerts(con, config, tiny_model, day(7))
    assert len(report.opened) == 1 and report.baseline == 0
