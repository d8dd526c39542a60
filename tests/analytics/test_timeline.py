"""An account's timeline on the tiny world: every kind, newest first, filterable by kind."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.contacts import account_contacts
from vitalsign.analytics.timeline import (
    KINDS,
    account_timeline,
    date_trunc_week,
    event_summary,
    parse_kinds,
    timeline_counts,
)
from vitalsign.engine.run import score
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.notes import add_note
from vitalsign.store.overrides import add_override
from vitalsign.store.workspace import Workspace
from world import TABLES, T, ts


@pytest.fixture
def scored(tiny_workspace: Workspace, tiny_model: LoadedModel) -> Workspace:
    """The tiny world scored on T and a week before, with a note and an override on A."""
    score(tiny_workspace, T - dt.timedelta(days=7), tiny_model)
    score(tiny_workspace, T, tiny_model)
    add_note(tiny_workspace.duckdb, "A", "ann", "Renewal call booked", at=ts(2))
    add_override(tiny_workspace.duckdb, "A", "band", "yellow", "exec escalation", "ann")
    return tiny_workspace


def test_the_timeline_holds_every_kind_of_the_accounts_data(
    scored: Workspace, tiny_model: LoadedModel
) -> None:
    entries = account_timeline(scored.duckdb, "A", tiny_model.name)
    titles = [e.title for e in entries]
    assert "Ticket opened: ticket (high)" in titles and "Ticket opened: ticket (normal)" in titles
    assert "Invoice issued: $1,000" in titles
    assert {"NPS 3", "NPS 8", "CSAT 2"} <= set(titles)
    assert "CSM rating green by ann" in titles
    assert any(t.startswith("First scored: ") for t in titles)
    assert "Note by ann" in titles
    assert any(t.startswith("Override: band → yellow") for t in titles)
    # B's champion left shows on B's timeline, not A's
    assert "Champion left" not in titles
    assert "Champion left" in [e.title for e in account_timeline(scored.duckdb, "B", "tiny")]


def test_weekly_usage_totals_count_the_accounts_events_per_monday_week(scored: Workspace) -> None:
    expected = Counter(date_trunc_week(r[2]) for r in TABLES["events"] if r[1] == "A")
    usage = account_timeline(scored.duckdb, "A", "tiny", kinds={"usage"})
    found = {e.at: int(e.title.split()[1].replace(",", "")) for e in usage}
    assert found == dict(expected)
    assert all(e.at.weekday() == 0 for e in usage)


def test_entries_are_newest_first_and_a_kind_filter_keeps_exactly_those_entries(
    scored: Workspace,
) -> None:
    everything = account_timeline(scored.duckdb, "A", "tiny")
    assert [e.at for e in everything] == sorted((e.at for e in everything), reverse=True)
    for kind in KINDS:
        only = account_timeline(scored.duckdb, "A", "tiny", kinds={kind})
        assert only == [e for e in everything if e.kind == kind]
    assert sum(timeline_counts(everything).values()) == len(everything)


def test_since_and_limit_keep_the_newest_entries(scored: Workspace) -> None:
    everything = account_timeline(scored.duckdb, "A", "tiny")
    since = ts(30)
    recent = account_timeline(scored.duckdb, "A", "tiny", since=since)
    assert recent == [e for e in everything if e.at >= since]
    assert account_timeline(scored.duckdb, "A", "tiny", limit=3) == everything[:3]


def test_an_unknown_kind_is_refused_with_the_kinds_to_use() -> None:
    with pytest.raises(VitalsignError, match="unknown timeline kind 'tickets': use score, alert"):
        parse_kinds("note,tickets")
    assert parse_kinds(" note , ticket ") == {"note", "ticket"}
    assert parse_kinds("") is None


def test_a_workspace_without_alert_tables_still_has_a_timeline(scored: Workspace) -> None:
    present = scored.duckdb.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'alerts'"
    ).fetchone()
    assert present == (0,)  # the tiny workspace never evaluated alerts
    assert account_timeline(scored.duckdb, "A", "tiny", kinds={"alert", "task"}) == []


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_a_week_starts_on_the_monday_at_or_before_the_moment(at: dt.datetime) -> None:
    monday = date_trunc_week(at)
    assert monday.weekday() == 0 and monday.time() == dt.time()
    assert dt.timedelta(0) <= at - monday < dt.timedelta(days=7)


def test_one_event_scan_gives_the_usage_and_last_activity_of_the_separate_reads(
    scored: Workspace,
) -> None:
    con = scored.duckdb
    con.executemany(
        "INSERT INTO users (user_id, account_id, created_at, role, is_champion) "
        "VALUES (?, ?, ?, ?, ?)",
        [("u1", "A", ts(300), "Analyst", False), ("u7", "A", ts(300), "Head", True)],
    )
    con.execute(  # an event without a user counts in the week's total, not as a person
        "INSERT INTO events (event_id, account_id, timestamp, event) VALUES ('n', 'A', ?, 'x')",
        [ts(2)],
    )
    summary = event_summary(con, "A")
    for since in (None, ts(25)):
        separate = account_timeline(con, "A", "tiny", {"usage"}, since)
        assert account_timeline(con, "A", "tiny", {"usage"}, since, events=summary) == separate
    assert account_contacts(con, "A", summary.last_seen) == account_contacts(con, "A")
    assert summary.last_seen == {"u1": ts(0)}
