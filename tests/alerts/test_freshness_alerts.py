"""Alerts do not fire on changes caused by stale or newly missing data."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from importlib import resources
from pathlib import Path

from alert_history import alert_config, day, holds, write_day
from rich.console import Console

from vitalsign.alerts.daily import run_daily
from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.demo.build import build_demo
from vitalsign.engine.run import score
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.freshness import TableFreshness, record_freshness
from vitalsign.store.workspace import Workspace, open_workspace
from world import FIXTURES, T, ts

STALE_EVENTS = "freshness: {events: 2d, tickets: never, invoices: never}"
NEVER = "freshness: {events: never, tickets: never, invoices: never}"
DROPS = """
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  dropped:
    type: score_dropped
    points: 15
    within: 30d
  left_yellow:
    type: band_left
    bands: [green, yellow]
  entered_red:
    type: band_entered
    bands: [red, insufficient_data]
"""


def _mark_stale(ws: Workspace, model: LoadedModel, when: dt.date) -> None:
    stale = TableFreshness("events", when, dt.datetime(2024, 1, 1), 2, ("logins_30d",))
    record_freshness(ws.duckdb, model.name, {when: [stale]})


def test_a_stale_events_table_raises_no_drop_alert(tiny_workspace: Workspace) -> None:
    model = parse_model((FIXTURES / "models" / "tiny.yml").read_text().replace(NEVER, STALE_EVENTS))
    config = alert_config(DROPS, model)
    later = T + dt.timedelta(days=5)  # the newest event is at T: events are stale by then
    score(tiny_workspace, T, model)
    evaluate_alerts(tiny_workspace.duckdb, config, model, T, notify=False)
    score(tiny_workspace, later, model)
    scores = dict(
        tiny_workspace.duckdb.execute(
            "SELECT snapshot_date, score FROM scores WHERE account_id = 'B' ORDER BY 1"
        ).fetchall()
    )
    assert scores[T] - scores[later] >= 15  # B's score fell with its usage signals missing
    report = evaluate_alerts(tiny_workspace.duckdb, config, model, later, notify=False)
    assert report.opened == [] and report.held_back >= 1
    assert "held back (stale or missing data)" in report.line()


def test_a_real_drop_fires_and_the_same_drop_on_a_stale_day_is_held_back(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 80}, "B": {"score": 80}})
    write_day(con, tiny_model, day(7), {"A": {"score": 50}, "B": {"score": 50}})
    assert holds(con, tiny_model, "type: score_dropped\npoints: 15", day(7))["A"][0] is True
    _mark_stale(tiny_workspace, tiny_model, day(7))
    held = holds(con, tiny_model, "type: score_dropped\npoints: 15", day(7))
    assert held["A"][0] is False and held["B"][0] is False  # holds, does not fire
    assert holds(con, tiny_model, "type: band_left\nbands: [green]", day(7))["A"][0] is False


def test_a_fall_in_coverage_or_a_signal_gone_missing_holds_back_that_account_only(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    values = {"logins_30d": 5.0, "tickets_90d": 1.0}
    write_day(
        con,
        tiny_model,
        day(0),
        {n: {"score": 80, "signals": values} for n in ("A", "B", "C")},
    )
    write_day(
        con,
        tiny_model,
        day(7),
        {
            "A": {"score": 50, "signals": values},  # a real drop, the same data
            "B": {"score": 50, "signals": values},  # its coverage fell (below)
            "C": {"score": 50, "signals": {"logins_30d": None, "tickets_90d": 1.0}},
        },
    )
    con.execute(
        "UPDATE scores SET coverage = 0.6 WHERE account_id = 'B' AND snapshot_date = ?", [day(7)]
    )
    dropped = holds(con, tiny_model, "type: score_dropped\npoints: 15", day(7))
    assert {a: fired for a, (fired, _) in dropped.items()} == {"A": True, "B": False, "C": False}
    left = holds(con, tiny_model, "type: band_left\nbands: [green]", day(7))
    assert {a: fired for a, (fired, _) in left.items()} == {"A": True, "B": False, "C": False}


def test_a_drop_is_measured_against_snapshots_without_a_stale_table(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 60}})
    write_day(con, tiny_model, day(7), {"A": {"score": 95}})  # computed from part of the data
    write_day(con, tiny_model, day(14), {"A": {"score": 60}})
    assert holds(con, tiny_model, "type: score_dropped\npoints: 15", day(14))["A"][0] is True
    _mark_stale(tiny_workspace, tiny_model, day(7))
    assert holds(con, tiny_model, "type: score_dropped\npoints: 15", day(14)) == {}


ENTERED_RED = "type: band_entered\nbands: [red]"
LEFT_GREEN = "type: band_left\nbands: [green]"
DROPPED = "type: score_dropped\npoints: 15"


def test_a_change_held_back_on_a_stale_day_fires_on_the_next_fresh_day(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 80}, "B": {"score": 20}})
    write_day(con, tiny_model, day(1), {"A": {"score": 20}, "B": {"score": 20}})
    _mark_stale(tiny_workspace, tiny_model, day(1))
    write_day(con, tiny_model, day(2), {"A": {"score": 20}, "B": {"score": 20}})
    for rule in (ENTERED_RED, LEFT_GREEN, DROPPED):
        assert holds(con, tiny_model, rule, day(1))["A"][0] is False  # held back on the day
    entered = holds(con, tiny_model, ENTERED_RED, day(2))
    assert entered["A"] == (
        True,
        {"band_now": "red", "band_before": "green", "previous_snapshot": day(0).isoformat()},
    )  # compared with the last snapshot without a stale table, not with day 1
    assert entered["B"][0] is False  # red all along: nothing entered
    assert holds(con, tiny_model, LEFT_GREEN, day(2))["A"][0] is True
    dropped = holds(con, tiny_model, DROPPED, day(2))["A"]
    assert dropped[0] is True and dropped[1]["peak_date"] == day(0).isoformat()


def test_an_evaluation_opens_the_held_back_alert_on_the_next_fresh_day(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    config = alert_config(DROPS, tiny_model)
    write_day(con, tiny_model, day(0), {"A": {"score": 80}})
    write_day(con, tiny_model, day(1), {"A": {"score": 20}})
    _mark_stale(tiny_workspace, tiny_model, day(1))
    write_day(con, tiny_model, day(2), {"A": {"score": 20}})
    assert evaluate_alerts(con, config, tiny_model, day(0), notify=False).opened == []
    on_1 = evaluate_alerts(con, config, tiny_model, day(1), notify=False)
    assert on_1.opened == [] and on_1.held_back == 3
    on_2 = evaluate_alerts(con, config, tiny_model, day(2), notify=False)
    opened = con.execute(
        "SELECT rule FROM alerts WHERE snapshot_date = ? ORDER BY rule", [day(2)]
    ).fetchall()
    assert opened == [("dropped",), ("entered_red",), ("left_yellow",)]
    assert len(on_2.opened) == 3 and on_2.held_back == 0


def test_a_change_held_back_for_lost_data_fires_when_the_data_is_back(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    full = {"logins_30d": 5.0, "tickets_90d": 1.0}
    gone = {"logins_30d": None, "tickets_90d": 1.0}
    write_day(
        con,
        tiny_model,
        day(0),
        {n: {"score": 80, "signals": full} for n in ("A", "B")},
    )
    write_day(  # B's coverage fell (below), A lost a signal: both turned red
        con,
        tiny_model,
        day(1),
        {"A": {"score": 20, "signals": gone}, "B": {"score": 20, "signals": full}},
    )
    con.execute(
        "UPDATE scores SET coverage = 0.6 WHERE account_id = 'B' AND snapshot_date = ?", [day(1)]
    )
    write_day(  # still partial: still held back
        con,
        tiny_model,
        day(2),
        {"A": {"score": 20, "signals": gone}, "B": {"score": 20, "signals": full}},
    )
    con.execute(
        "UPDATE scores SET coverage = 0.6 WHERE account_id = 'B' AND snapshot_date = ?", [day(2)]
    )
    write_day(  # the data is back, the accounts are still red
        con,
        tiny_model,
        day(3),
        {n: {"score": 20, "signals": full} for n in ("A", "B")},
    )
    for when in (day(1), day(2)):
        for rule in (ENTERED_RED, LEFT_GREEN, DROPPED):
            fired = {a: f for a, (f, _) in holds(con, tiny_model, rule, when).items()}
            assert fired == {"A": False, "B": False}
    for rule in (ENTERED_RED, LEFT_GREEN, DROPPED):
        fired = {a: f for a, (f, _) in holds(con, tiny_model, rule, day(3)).items()}
        assert fired == {"A": True, "B": True}
    entered = holds(con, tiny_model, ENTERED_RED, day(3))
    assert {v["previous_snapshot"] for _, v in entered.values()} == {day(0).isoformat()}


def test_more_data_than_before_is_no_band_change(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 20}, "B": {"score": 80}})
    con.execute("UPDATE scores SET coverage = 0.6 WHERE snapshot_date = ?", [day(0)])
    write_day(con, tiny_model, day(1), {"A": {"score": 20}, "B": {"score": 20}})
    # no earlier snapshot had as much data: compared with the previous one, as before
    entered = holds(con, tiny_model, ENTERED_RED, day(1))
    assert {a: f for a, (f, _) in entered.items()} == {"A": False, "B": True}
    assert entered["B"][1]["previous_snapshot"] == day(0).isoformat()


def test_silence_rules_stay_quiet_while_the_whole_table_is_silent(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    when = T + dt.timedelta(days=10)  # the newest event is at T: the whole table is silent
    write_day(con, tiny_model, when, {"A": {}, "B": {}, "C": {}})
    rule = "type: data_stale\ntable: events\ndays: 7d"
    assert holds(con, tiny_model, rule, when) == {}
    # one account still sends events: the others are silent, the source is not
    con.execute(
        "INSERT INTO events (event_id, account_id, timestamp, event) VALUES ('c1', 'C', ?, 'x')",
        [ts(-9)],
    )
    assert set(holds(con, tiny_model, rule, when)) == {"A", "B"}


def _starter_alerts(root: Path) -> None:
    source = resources.files("vitalsign.alerts").joinpath("starter_alerts.yml")
    with resources.as_file(source) as path:
        shutil.copyfile(path, root / "alerts.yml")


def test_the_demo_a_year_after_its_data_opens_no_alert_storm(tmp_path: Path) -> None:
    quiet = Console(file=io.StringIO())
    root = build_demo(tmp_path / "demo", accounts=80, seed=5, weeks=5, console=quiet)
    _starter_alerts(root)
    ws = open_workspace(root)
    newest = ws.duckdb.execute("SELECT max(timestamp) FROM events").fetchone()[0]
    a_year_later = newest.date() + dt.timedelta(days=365)
    report = run_daily(ws, sync=False, today=a_year_later, show_progress=False, console=quiet)
    assert report.ok and report.as_of == a_year_later
    scoring = report.step("score").detail
    assert "stale events: newest row" in scoring and "stale invoices" in scoring
    assert "stale tickets" in scoring
    bands = ws.duckdb.execute(
        "SELECT DISTINCT band FROM scores WHERE snapshot_date = ?", [a_year_later]
    ).fetchall()
    assert bands == [("insufficient_data",)]  # scored nothing it cannot: no red
    assert ws.duckdb.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
    assert ws.duckdb.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
    assert "0 opened" in report.step("alerts").detail
    ws.close()


def test_run_on_an_export_two_days_old_scores_the_day_its_data_ends(tmp_path: Path) -> None:
    quiet = Console(file=io.StringIO())
    root = build_demo(tmp_path / "demo", accounts=80, seed=5, weeks=5, console=quiet)
    _starter_alerts(root)
    ws = open_workspace(root)
    newest = ws.duckdb.execute("SELECT max(timestamp) FROM events").fetchone()[0]
    two_days_later = newest.date() + dt.timedelta(days=2)
    report = run_daily(ws, sync=False, today=two_days_later, show_progress=False, console=quiet)
    assert report.ok and report.as_of == newest.date()
    assert f"scoring as of {newest.date()}" in report.step("score").detail
    assert "stale" not in report.step("score").detail
    ws.close()
