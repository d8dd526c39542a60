"""One account's timeline: what happened with the customer, newest first, from every table.

Each kind is read by its own query filtered on the account (and on the time window, which
DuckDB's zonemaps prune), so filtering by kind skips the other tables' reads.

>>> kinds = {"ticket", "note"}
>>> entries = account_timeline(ws.duckdb, "acc-1", "default", kinds)  # doctest: +SKIP
>>> entries[0].title  # doctest: +SKIP
'Ticket opened: Export failing (urgent)'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from vitalsign.analytics.timeline_sources import (
    READERS,
    SCORE_STEP,
    TABLES,
    EventSummary,
    TimelineEntry,
    date_trunc_week,
    event_summary,
    score_entries,
    usage_entries,
)
from vitalsign.errors import VitalsignError

__all__ = [
    "KINDS",
    "SCORE_STEP",
    "EventSummary",
    "TimelineEntry",
    "account_timeline",
    "date_trunc_week",
    "event_summary",
    "parse_kinds",
    "timeline_counts",
]

# The kinds, in the order the page's filter lists them.
KINDS: dict[str, str] = {
    "score": "score and band changes",
    "alert": "alerts and their outcome",
    "task": "tasks",
    "override": "overrides",
    "note": "notes",
    "ticket": "support tickets",
    "invoice": "invoices",
    "survey": "survey answers",
    "rating": "CSM ratings",
    "business": "business events",
    "outcome": "renewals, churn, expansion",
    "usage": "weekly usage totals",
}


def parse_kinds(text: str | Collection[str] | None) -> set[str] | None:
    """Return the kinds named in `text` ("ticket,note" or a list); None or empty means all."""
    if text is None:
        return None
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text)]
    wanted = {n for n in names if n}
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise VitalsignError(
            f"unknown timeline kind {', '.join(map(repr, unknown))}: use {', '.join(KINDS)}"
        )
    return wanted or None


def account_timeline(
    connection: Any,
    account_id: str,
    model_name: str,
    kinds: Collection[str] | None = None,
    since: dt.datetime | None = None,
    limit: int | None = None,
    events: EventSummary | None = None,
) -> list[TimelineEntry]:
    """Return what happened with the account since `since` (default: ever), newest first.

    `kinds` keeps only those kinds (see KINDS); `limit` keeps the newest entries; `events`,
    when the caller read them already (`event_summary`), gives the weekly usage.
    """
    present = {
        r[0]
        for r in connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    wanted = {k for k in parse_kinds(kinds) or KINDS if TABLES[k] in present}
    start = since or dt.datetime.min
    entries: list[TimelineEntry] = []
    if "score" in wanted:
        entries += score_entries(connection, account_id, model_name, start)
    for kind, read in READERS.items():
        if kind == "usage" and kind in wanted and events is not None:
            entries += usage_entries(events.weeks, start)
        elif kind in wanted:
            entries += read(connection, account_id, start)
    entries.sort(key=lambda e: (e.at, e.kind, e.title), reverse=True)
    return entries[:limit] if limit is not None else entries


def timeline_counts(entries: list[TimelineEntry]) -> dict[str, int]:
    """Return how many entries each kind has (for the filter's labels)."""
    counts = dict.fromkeys(KINDS, 0)
    for entry in entries:
        counts[entry.kind] += 1
    return counts
