"""Each rule type on crafted score histories (and the tiny world's canonical tables)."""

from __future__ import annotations

import datetime as dt

from alert_history import day, holds, write_day

from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace
from world import ts


def test_band_entered_fires_on_the_change_and_holds_while_the_band_stays(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 80}, "B": {"score": 20}})
    write_day(con, tiny_model, day(7), {"A": {"score": 30}, "B": {"score": 20}})
    write_day(con, tiny_model, day(14), {"A": {"score": 35}, "B": {"score": 75}})
    rule = "type: band_entered\nbands: [red]"
    on_7 = holds(con, tiny_model, rule, day(7))
    assert on_7["A"] == (
        True,
        {"band_now": "red", "band_before": "green", "previous_snapshot": day(0).isoformat()},
    )
    assert on_7["B"][0] is False  # already red before: holds, does not fire again
    on_14 = holds(con, tiny_model, rule, day(14))
    assert set(on_14) == {"A"} and on_14["A"][0] is False


def test_band_entered_can_watch_the_computed_band_under_an_override(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 80}})
    write_day(
        con, tiny_model, day(7), {"A": {"score": 30, "band": "yellow", "computed_band": "red"}}
    )
    assert holds(con, tiny_model, "type: band_entered\nbands: [red]", day(7)) == {}
    computed = holds(con, tiny_model, "type: band_entered\nbands: [red]\ncomputed: true", day(7))
    assert computed["A"][0] is True


def test_band_left_fires_when_an_account_drops_out_of_green(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 80}, "B": {"score": 50}})
    write_day(con, tiny_model, day(7), {"A": {"score": 60}, "B": {"score": 50}})
    write_day(con, tiny_model, day(14), {"A": {"score": 90}, "B": {"score": 50}})
    rule = "type: band_left\nbands: [green]"
    on_7 = holds(con, tiny_model, rule, day(7))
    assert on_7["A"][0] is True and on_7["A"][1]["band_now"] == "yellow"
    assert on_7["B"][0] is False  # never was green: holds, but there was nothing to leave
    assert "A" not in holds(con, tiny_model, rule, day(14))


def test_score_below_lists_the_score_and_threshold(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"score": 49.5}, "B": {"score": 50}})
    result = holds(con, tiny_model, "type: score_below\nvalue: 50", day(0))
    assert result == {"A": (True, {"score": 49.5, "threshold": 50.0})}


def test_score_dropped_compares_with_the_peak_inside_the_window(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    for n, a, b in ((0, 80, 80), (7, 70, 75), (14, 60, 70), (21, 60, 70)):
        write_day(con, tiny_model, day(n), {"A": {"score": a}, "B": {"score": b}})
    rule = "type: score_dropped\npoints: 15\nwithin: 14d"
    on_14 = holds(con, tiny_model, rule, day(14))
    assert set(on_14) == {"A"}
    assert on_14["A"][1] == {
        "peak": 80.0,
        "peak_date": day(0).isoformat(),
        "score": 60.0,
        "dropped": 20.0,
        "within_days": 14,
    }
    assert holds(con, tiny_model, rule, day(21)) == {}  # the 80 left the 14-day window


def test_signal_threshold_reads_raw_values_below_or_above(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(
        con,
        tiny_model,
        day(0),
        {
            "A": {"signals": {"logins_30d": 2}},
            "B": {"signals": {"logins_30d": 12}},
            "C": {"signals": {"logins_30d": None}},
        },
    )
    below = holds(con, tiny_model, "type: signal_threshold\nsignal: logins_30d\nbelow: 3", day(0))
    assert below == {
        "A": (True, {"signal": "logins_30d", "value": 2.0, "threshold": 3.0, "side": "below"})
    }
    above = holds(con, tiny_model, "type: signal_threshold\nsignal: logins_30d\nabove: 10", day(0))
    assert set(above) == {"B"}


def test_signal_change_compares_with_the_snapshot_one_window_earlier(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(
        con,
        tiny_model,
        day(0),
        {
            "A": {"signals": {"logins_30d": 10}},
            "B": {"signals": {"logins_30d": 2}},
            "C": {"signals": {"logins_30d": 0}},
        },
    )
    write_day(
        con,
        tiny_model,
        day(7),
        {
            "A": {"signals": {"logins_30d": 4}},
            "B": {"signals": {"logins_30d": 5}},
            "C": {"signals": {"logins_30d": 9}},
        },
    )
    drop = holds(
        con, tiny_model, "type: signal_change\nsignal: logins_30d\ndrop_pct: 50\nwindow: 7d", day(7)
    )
    assert drop == {
        "A": (
            True,
            {
                "signal": "logins_30d",
                "value_before": 10.0,
                "reference_snapshot": day(0).isoformat(),
                "value": 4.0,
                "change_pct": -60.0,
            },
        )
    }
    rise = holds(
        con,
        tiny_model,
        "type: signal_change\nsignal: logins_30d\nrise_pct: 100\nwindow: 7d",
        day(7),
    )
    assert set(rise) == {"B"}  # C rose from 0: no percentage, no alert
    # the signal's own window (30d) reaches back before the first snapshot: nothing to compare
    assert (
        holds(con, tiny_model, "type: signal_change\nsignal: logins_30d\ndrop_pct: 50", day(7))
        == {}
    )


def test_flag_raised_matches_any_flag_or_the_listed_ones(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(
        con,
        tiny_model,
        day(0),
        {"A": {"flags": ["champion_left"]}, "B": {"flags": ["other"]}, "C": {}},
    )
    assert set(holds(con, tiny_model, "type: flag_raised", day(0))) == {"A", "B"}
    listed = holds(con, tiny_model, "type: flag_raised\nflags: [champion_left]", day(0))
    assert listed == {"A": (True, {"flags": ["champion_left"]})}


def test_gate_failed_records_the_score_before_the_gate(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(con, tiny_model, day(0), {"A": {"gate": False, "score": 0}, "B": {}})
    result = holds(con, tiny_model, "type: gate_failed", day(0))
    assert result == {"A": (True, {"gate": "invoiced", "score_before_gate": 0.0})}


def test_commercial_disagreement_finds_green_accounts_with_billing_trouble(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    t = dt.datetime(2024, 3, 1)
    con.executemany(
        "INSERT INTO invoices (invoice_id, account_id, issued_at, amount, status, due_at, paid_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("f1", "A", t, 1000.0, "failed", None, None),
            ("o1", "C", t - dt.timedelta(days=20), 50.0, "open", t - dt.timedelta(days=5), None),
        ],
    )
    con.executemany(
        "INSERT INTO subscriptions (subscription_id, account_id, started_at, ended_at, plan, "
        "status, seats, mrr) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("s1", "B", t - dt.timedelta(days=300), None, "pro", "active", 50, 900.0),
            ("s2", "B", t - dt.timedelta(days=3), None, "basic", "active", 20, 400.0),
        ],
    )
    write_day(con, tiny_model, day(0), {"A": {}, "B": {}, "C": {"score": 50}})
    rule = "type: commercial_disagreement\nbands: [green]\nwithin: 30d"
    result = holds(con, tiny_model, rule, day(0))
    assert set(result) == {"A", "B"}  # C's overdue invoice does not count: C is yellow
    assert result["A"][1]["signs"] == ["failed_payment"]
    assert result["B"][1]["signs"] == ["downgrade"]
    assert "mrr 900.0 → 400.0" in result["B"][1]["details"][0]
    both = holds(con, tiny_model, "type: commercial_disagreement\nbands: [green, yellow]", day(0))
    assert both["C"][1]["signs"] == ["overdue_invoice"]


def test_data_stale_reports_accounts_whose_source_went_quiet(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    con.execute(
        "INSERT INTO events VALUES ('late', 'B', TIMESTAMP '2024-03-08 10:00', 'login', 'u', "
        "NULL, NULL)"
    )
    write_day(con, tiny_model, day(7), {"A": {}, "B": {}, "C": {}})
    result = holds(con, tiny_model, "type: data_stale\ntable: events\ndays: 7d", day(7))
    assert set(result) == {"A", "C"}
    assert (
        result["A"][1]["days_silent"] == 10
    )  # 10 days and 1 second and result["A"][1]["source"] == "events"
    assert result["C"][1]["last_seen"] is None  # never sent anything
    strict = "type: data_stale\ntable: events\ndays: 7d\ninclude_never: false"
    assert set(holds(con, tiny_model, strict, day(7))) == {"A"}


def test_csm_rating_stale_reports_old_or_missing_ratings(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    # another account was rated recently: the ratings still arrive, these accounts are silent
    con.execute(
        "INSERT INTO csm_ratings (account_id, rated_at, rating) VALUES ('D', ?, 'green')",
        [ts(-10)],
    )
    write_day(con, tiny_model, day(14), {"A": {}, "B": {}, "C": {}})
    result = holds(con, tiny_model, "type: csm_rating_stale\ndays: 30d", day(14))
    assert set(result) == {"A", "B", "C"}
    assert result["A"][1]["last_rating"] == "green" and result["A"][1]["days_silent"] == 37
    assert result["C"][1]["last_seen"] is None
    assert set(holds(con, tiny_model, "type: csm_rating_stale\ndays: 40d", day(14))) == {"B", "C"}


def test_segments_and_min_arr_narrow_every_rule(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    write_day(
        con,
        tiny_model,
        day(0),
        {
            "A": {"score": 10, "arr": 500.0},
            "B": {"score": 10, "segment": "enterprise", "arr": 90000.0},
            "C": {"score": 10, "arr": 5000.0},
        },
    )
    assert set(
        holds(con, tiny_model, "type: score_below\nvalue: 50\nsegments: [enterprise]", day(0))
    ) == {"B"}
    assert set(holds(con, tiny_model, "type: score_below\nvalue: 50\nmin_arr: 1000", day(0))) == {
        "B",
        "C",
    }
