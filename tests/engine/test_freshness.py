"""A stale table makes its signals missing, never a false 0; freshness is recorded per snapshot."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.engine.freshness import data_date, mask_stale, signals_fed_by, table_freshness
from vitalsign.engine.run import backfill, compute_scores, score
from vitalsign.engine.signals import signal_column, signal_table
from vitalsign.errors import ModelError
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.model.spec import DEFAULT_FRESHNESS
from vitalsign.store.freshness import snapshot_freshness, stale_lines
from vitalsign.store.workspace import Workspace
from world import FIXTURES, MIDNIGHT, T

TINY = (FIXTURES / "models" / "tiny.yml").read_text()
NEVER = "freshness: {events: never, tickets: never, invoices: never}"
LATER = T + dt.timedelta(days=5)  # the newest event is at T: five days old, events are stale
runner = CliRunner()


def _model(freshness: str) -> LoadedModel:
    return parse_model(TINY.replace(NEVER, freshness))


STALE_EVENTS = "freshness: {events: 2d, tickets: never, invoices: never}"
EVENTS_NEVER_STALE = NEVER


def _scores(ws: Workspace, model: LoadedModel, day: dt.date) -> pd.DataFrame:
    return compute_scores(ws.backend, model, [day]).scores.set_index("account_id")


def _items(ws: Workspace, model: LoadedModel, day: dt.date) -> pd.DataFrame:
    items = compute_scores(ws.backend, model, [day]).items
    return items[items["kind"] == "signal"].set_index(["account_id", "name"])


def test_a_stale_events_table_makes_its_signals_missing_not_zero(tiny_workspace: Workspace) -> None:
    live = _items(tiny_workspace, _model(EVENTS_NEVER_STALE), LATER)
    stale = _items(tiny_workspace, _model(STALE_EVENTS), LATER)
    # without freshness a silent events table reads as "no logins" for C: a false 0
    assert live.loc[("C", "logins_30d"), "raw_value"] == 0
    for account in ("A", "B", "C"):
        assert math.isnan(stale.loc[(account, "logins_30d"), "raw_value"])
        assert math.isnan(stale.loc[(account, "logins_30d"), "points"])
    # the other tables' signals are untouched
    assert (
        stale.loc[("A", "tickets_90d"), "raw_value"] == live.loc[("A", "tickets_90d"), "raw_value"]
    )


def test_coverage_drops_and_the_band_comes_from_the_rest_or_says_insufficient(
    tiny_workspace: Workspace,
) -> None:
    live = _scores(tiny_workspace, _model(EVENTS_NEVER_STALE), LATER)
    stale = _scores(tiny_workspace, _model(STALE_EVENTS), LATER)
    assert (live["coverage"] > stale["coverage"]).all()
    # A keeps support and voice (weights 1 + 1 of 4): coverage 0.5, its score from the rest
    assert stale.loc["A", "coverage"] == pytest.approx(0.5)
    assert stale.loc["A", "band"] != "insufficient_data"
    # B has no NPS: support and half of voice (1.5 of 4) are too little data to judge
    assert stale.loc["B", "coverage"] == pytest.approx(0.375)
    assert stale.loc["B", "band"] == "insufficient_data"
    # C has no invoice in 30 days: the gate fails on fresh data (score 0), but with support
    # alone (1 of 4) the coverage rule applies whatever the score: insufficient data
    assert stale.loc["C", "score"] == 0 and not stale.loc["C", "gate_pass"]
    assert stale.loc["C", "coverage"] == pytest.approx(0.25)
    assert stale.loc["C", "band"] == "insufficient_data"


def test_a_missing_policy_is_not_applied_to_a_stale_table(tiny_workspace: Workspace) -> None:
    zero = "    window: 30d\n    missing: zero\n    scale: {type: linear, low: 0, high: 10}"
    text = TINY.replace(NEVER, STALE_EVENTS).replace(
        "    window: 30d\n    scale: {type: linear, low: 0, high: 10}", zero
    )
    stale = _scores(tiny_workspace, parse_model(text), LATER)
    plain = _scores(tiny_workspace, _model(STALE_EVENTS), LATER)
    # logins_30d: missing counts as 0 for an account without logins, not for a broken feed
    assert stale.loc["A", "score"] == pytest.approx(plain.loc["A", "score"])
    assert stale.loc["A", "coverage"] == pytest.approx(0.5)


def test_derived_signals_gates_and_flags_of_stale_inputs_are_not_evaluated(
    tiny_workspace: Workspace,
) -> None:
    extra = (
        '  logins_doubled:\n    formula: "logins_30d * 2"\n'
        "  logins_per_ticket:\n    ratio: [logins_30d, tickets_90d]\n"
    )
    text = TINY.replace(NEVER, STALE_EVENTS).replace("scorecards:\n", extra + "scorecards:\n")
    text = text.replace('when: "invoices_30d >= 1"', 'when: "invoices_30d >= 1 or logins_30d > 0"')
    quiet = '  quiet:\n    when: "logins_30d < 1"\n    subtract: 50\n'
    model = parse_model(
        text.replace("    cap_band: yellow\nbands:", f"    cap_band: yellow\n{quiet}bands:")
    )
    assert set(signals_fed_by(model.spec)["events"]) == {
        "logins_30d",
        "logins_doubled",
        "logins_per_ticket",
    }
    frame = signal_table(tiny_workspace.backend, model.spec, [LATER]).execute()
    assert frame[signal_column("logins_doubled")].notna().any()  # before: computed from 0s
    freshness = table_freshness(tiny_workspace.backend, model.spec, [LATER])
    masked = mask_stale(frame, model.spec, freshness)
    for name in ("logins_30d", "logins_doubled", "logins_per_ticket"):
        assert masked[signal_column(name)].isna().all()
    assert masked[signal_column("tickets_90d")].notna().all()
    scores = _scores(tiny_workspace, model, LATER)
    # C has no invoice in 30 days: the gate reads a stale signal too, so it gives no verdict
    assert scores["gate_pass"].all()
    assert not any("quiet" in flags for flags in scores["flags"])


def test_each_snapshot_records_the_freshness_of_every_table_the_model_reads(
    tiny_workspace: Workspace,
) -> None:
    model = _model(STALE_EVENTS)
    backfill(tiny_workspace, [T, LATER], model, show_progress=False)
    recorded = snapshot_freshness(tiny_workspace.duckdb, "tiny", [T, LATER])
    by_key = {(t.day, t.table): t for t in recorded}
    assert {t.table for t in recorded} == set(signals_fed_by(model.spec))
    assert not by_key[(T, "events")].stale and by_key[(LATER, "events")].stale
    assert by_key[(LATER, "events")].newest == MIDNIGHT  # A's login at T itself
    assert by_key[(LATER, "tickets")].allowed_days is None  # never stale in this model
    lines = stale_lines(tiny_workspace.duckdb, "tiny", [LATER])
    assert lines == [
        f"stale events: newest row {T} 00:00, 5 days before {LATER} (allowed 2 days): "
        "its 1 signal is missing"
    ]
    stored = tiny_workspace.duckdb.execute(
        "SELECT coverage FROM scores WHERE snapshot_date = ? AND account_id = 'A'", [LATER]
    ).fetchone()
    assert stored is not None and stored[0] == pytest.approx(0.5)


def test_score_says_in_one_line_per_stale_table_what_is_missing(
    tiny_workspace: Workspace,
) -> None:
    model = TINY.replace(NEVER, STALE_EVENTS)
    tiny_workspace.model_path.write_text(model, encoding="utf-8")
    root = str(tiny_workspace.root)
    tiny_workspace.close()
    result = runner.invoke(app, ["score", "--as-of", str(LATER), "-w", root])
    assert result.exit_code == 0, result.output
    assert "stale events: newest row 2024-03-01 00:00, 5 days before 2024-03-06" in result.output
    assert "its 1 signal is missing" in " ".join(result.output.split())
    fresh = runner.invoke(app, ["score", "--as-of", str(T), "-w", root])
    assert fresh.exit_code == 0 and "stale" not in fresh.output


def test_the_default_allowances_track_events_tickets_and_invoices_only(
    tiny_workspace: Workspace,
) -> None:
    defaults = parse_model(TINY.replace(NEVER, "")).spec
    assert {t: defaults.allowed_staleness(t) for t in ("events", "tickets", "invoices")} == {
        "events": 2,
        "tickets": 14,
        "invoices": 35,
    }
    assert set(DEFAULT_FRESHNESS) == {"events", "tickets", "invoices"}
    for sparse in ("surveys", "csm_ratings", "business_events", "outcomes", "accounts"):
        assert defaults.allowed_staleness(sparse) is None
    at_t = table_freshness(tiny_workspace.backend, defaults, [T])[T]
    # the tiny world's newest ticket is 45 days before T: under the defaults, stale
    assert {t.table for t in at_t if t.stale} == {"tickets"}


def test_an_empty_table_is_absent_not_stale(workspace: Workspace) -> None:
    model = _model(STALE_EVENTS)
    found = table_freshness(workspace.backend, model.spec, [T])[T]
    assert all(t.newest is None and not t.stale and t.absent and t.silent for t in found)


def test_an_absent_table_makes_its_signals_missing_whatever_their_policy(
    tiny_workspace: Workspace,
) -> None:
    """A count over a table never loaded is 0 for everyone: it must not earn healthy points."""
    model = _model("freshness: {events: never, tickets: never, invoices: never}")
    before = _scores(tiny_workspace, model, T)
    tiny_workspace.duckdb.execute("DELETE FROM tickets")
    after = compute_scores(tiny_workspace.backend, model, [T])
    items = after.items
    tickets = items[(items["kind"] == "signal") & (items["name"] == "tickets_90d")]
    assert len(tickets) == len(before) and tickets["points"].isna().all()
    scores = after.scores.set_index("account_id")
    assert (scores["coverage"] < before["coverage"]).all()
    root = str(tiny_workspace.root)
    tiny_workspace.model_path.write_text(TINY, encoding="utf-8")
    tiny_workspace.duckdb.execute("CHECKPOINT")
    tiny_workspace.close()
    result = runner.invoke(app, ["score", "--as-of", str(T), "-w", root])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"empty tickets: no row before {T}: its 1 signal is missing" in text
    assert "stale" not in text


def test_a_bad_freshness_key_names_the_table_or_the_duration() -> None:
    with pytest.raises(ModelError, match=r"freshness\.event: not a canonical table"):
        parse_model(TINY.replace(NEVER, "freshness: {event: 2d}"), "models/bad.yml")
    with pytest.raises(ModelError, match=r'freshness\.events: "2x" is not a duration'):
        parse_model(TINY.replace(NEVER, "freshness: {events: 2x}"), "models/bad.yml")


def test_run_scores_the_day_of_the_newest_data_when_it_lags_but_is_not_stale(
    tiny_workspace: Workspace,
) -> None:
    model = _model(STALE_EVENTS).spec
    # the newest event is at T 00:00: one day later the data lags, five days later it is stale
    assert data_date(tiny_workspace.backend, model, T + dt.timedelta(days=1))[0] == T
    assert data_date(tiny_workspace.backend, model, T + dt.timedelta(days=2))[0] == T
    assert data_date(tiny_workspace.backend, model, LATER) == (LATER, None)
    assert data_date(tiny_workspace.backend, model, T)[0] == T


def test_scoring_one_date_stores_the_same_as_a_backfill(tiny_workspace: Workspace) -> None:
    model = _model(STALE_EVENTS)
    score(tiny_workspace, LATER, model)
    one = tiny_workspace.duckdb.execute(
        "SELECT account_id, score, coverage, band FROM scores ORDER BY 1"
    ).fetchall()
    backfill(tiny_workspace, [T, LATER], model, show_progress=False)
    many = tiny_workspace.duckdb.execute(
        "SELECT account_id, score, coverage, band FROM scores WHERE snapshot_date = ? ORDER BY 1",
        [LATER],
    ).fetchall()
    assert one == many
