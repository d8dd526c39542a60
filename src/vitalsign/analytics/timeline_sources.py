"""What each table says happened with one account, as timeline entries (analytics/timeline.py).

One reader per kind, each a query filtered on the account and on the time window (which
DuckDB's zonemaps prune); the product events are read per week, or once for the timeline
and the contacts together (`event_summary`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# a snapshot enters the timeline when its band, its model or its score (by this much) changed
SCORE_STEP = 5.0


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: when (UTC), which kind, a one-line title and optional detail."""

    at: dt.datetime
    kind: str
    title: str
    detail: str | None = None
    tone: str | None = None  # "bad", "good" or None: how the page colours the entry

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "title": self.title,
            "detail": self.detail,
            "tone": self.tone,
        }


def _money(value: Any) -> str:
    return "—" if _missing(value) else f"${float(value):,.0f}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _stamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime.combine(value, dt.time())


def score_entries(
    con: Any, account_id: str, model_name: str, since: dt.datetime
) -> list[TimelineEntry]:
    """The snapshots where the account's band, model or score (by SCORE_STEP) changed."""
    # account_id alone in the WHERE: DuckDB answers from the web_scores_account index
    rows = con.execute(
        "SELECT snapshot_date, model_name, model_hash, score, band FROM scores "
        "WHERE account_id = ?",
        [account_id],
    ).fetchall()
    history = sorted((r for r in rows if r[1] == model_name), key=lambda r: r[0])
    entries: list[TimelineEntry] = []
    before: tuple[Any, ...] | None = None
    for day, _, model_hash, score, band in history:
        detail = f"snapshot {day}"
        if before is None:
            title, tone = f"First scored: {_points(score)}, {band}", None
        else:
            moved = _delta(score, before[1])
            changed_model = model_hash != before[0]
            if changed_model:  # a jump may be the model's, not the customer's
                detail += f"; the model changed ({before[0]} → {model_hash})"
            elif band == before[2] and (moved is None or abs(moved) < SCORE_STEP):
                before = (model_hash, score, band)
                continue
            title = f"Score {_points(before[1])} → {_points(score)}"
            title += f" ({moved:+.1f})" if moved is not None else ""
            title += f", band {before[2]} → {band}" if band != before[2] else f", {band}"
            tone = "bad" if (moved or 0) < 0 else "good"
        if _stamp(day) >= since:
            entries.append(TimelineEntry(_stamp(day), "score", title, detail, tone))
        before = (model_hash, score, band)
    return entries


def _points(value: Any) -> str:
    return "—" if _missing(value) else f"{float(value):.1f}"


def _delta(after: Any, before: Any) -> float | None:
    if _missing(after) or _missing(before):
        return None
    return float(after) - float(before)


def _alerts(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    # an alert opens and resolves on snapshot dates (the data's time), not when evaluated
    rows = con.execute(
        "SELECT rule, severity, summary, snapshot_date, acknowledged_at, acknowledged_by, "
        "coalesce(CAST(resolved_date AS TIMESTAMP), resolved_at), resolved_reason, useful, "
        "feedback_by, feedback_at, status "
        "FROM alerts WHERE account_id = ?",
        [account_id],
    ).fetchall()
    entries: list[TimelineEntry] = []
    for (
        rule,
        severity,
        summary,
        opened,
        ack_at,
        ack_by,
        res_at,
        res_why,
        useful,
        fb_by,
        fb_at,
        st,
    ) in rows:
        outcome = f"now {st}" + (
            "" if useful is None else f"; {'useful' if useful else 'not useful'}"
        )
        entries.append(
            TimelineEntry(
                _stamp(opened),
                "alert",
                f"Alert ({severity}): {summary}",
                f"{rule}; {outcome}",
                "bad",
            )
        )
        if ack_at is not None:
            entries.append(TimelineEntry(ack_at, "alert", f"Alert acknowledged by {ack_by}", rule))
        if res_at is not None:
            entries.append(
                TimelineEntry(
                    res_at, "alert", f"Alert resolved: {res_why or 'cleared'}", rule, "good"
                )
            )
        if fb_at is not None:
            verdict = "useful" if useful else "not useful"
            entries.append(TimelineEntry(fb_at, "alert", f"Alert rated {verdict} by {fb_by}", rule))
    return [e for e in entries if e.at >= since]


def _tasks(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT title, assignee, due_date, created_at, closed_at, closed_by, outcome "
        "FROM tasks WHERE account_id = ? AND (created_at >= ? OR closed_at >= ?)",
        [account_id, since, since],
    ).fetchall()
    entries: list[TimelineEntry] = []
    for title, assignee, due, created, closed, closed_by, outcome in rows:
        detail = ", ".join(
            part for part in (assignee and f"for {assignee}", due and f"due {due}") if part
        )
        entries.append(TimelineEntry(created, "task", f"Task opened: {title}", detail or None))
        if closed is not None:
            done = f"Task closed: {title}"
            entries.append(
                TimelineEntry(closed, "task", done, f"{outcome} (by {closed_by})", "good")
            )
    return [e for e in entries if e.at >= since]


def _overrides(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT target, value, reason, author, created_at, expires_at, revoked_at "
        "FROM overrides WHERE account_id = ?",
        [account_id],
    ).fetchall()
    entries: list[TimelineEntry] = []
    for target, value, reason, author, created, expires, revoked in rows:
        until = f" until {expires.date()}" if expires is not None else ""
        title = f"Override: {target} → {value}{until} by {author}"
        entries.append(TimelineEntry(created, "override", title, reason))
        if revoked is not None:
            entries.append(TimelineEntry(revoked, "override", f"Override of {target} revoked"))
    return [e for e in entries if e.at >= since]


def _notes(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT author, body, created_at FROM notes WHERE account_id = ? AND created_at >= ?",
        [account_id, since],
    ).fetchall()
    return [TimelineEntry(at, "note", f"Note by {author}", body) for author, body, at in rows]


def _tickets(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT subject, priority, created_at, solved_at, satisfaction FROM tickets "
        "WHERE account_id = ? AND deleted_at IS NULL AND (created_at >= ? OR solved_at >= ?)",
        [account_id, since, since],
    ).fetchall()
    entries: list[TimelineEntry] = []
    for subject, priority, opened, solved, satisfaction in rows:
        what = f"{subject or 'ticket'} ({priority or 'no priority'})"
        urgent = "bad" if priority in ("high", "urgent") else None
        entries.append(TimelineEntry(opened, "ticket", f"Ticket opened: {what}", None, urgent))
        if solved is not None:
            hours = (solved - opened).total_seconds() / 3600
            rated = "" if _missing(satisfaction) else f"; satisfaction {satisfaction:g}"
            detail = f"after {hours:.0f} h{rated}"
            entries.append(TimelineEntry(solved, "ticket", f"Ticket solved: {what}", detail))
    return [e for e in entries if e.at >= since]


def _invoices(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT invoice_id, amount, status, issued_at, due_at, paid_at FROM invoices "
        "WHERE account_id = ? AND deleted_at IS NULL AND (issued_at >= ? OR paid_at >= ?)",
        [account_id, since, since],
    ).fetchall()
    entries: list[TimelineEntry] = []
    for invoice_id, amount, status, issued, due, paid in rows:
        entries.append(
            TimelineEntry(issued, "invoice", f"Invoice issued: {_money(amount)}", invoice_id)
        )
        if status == "failed":  # the table keeps no failure time: shown at the due date
            failed = f"Invoice payment failed: {_money(amount)}"
            entries.append(TimelineEntry(due or issued, "invoice", failed, invoice_id, "bad"))
        if paid is not None:
            entries.append(
                TimelineEntry(
                    paid, "invoice", f"Invoice paid: {_money(amount)}", invoice_id, "good"
                )
            )
    return [e for e in entries if e.at >= since]


def _surveys(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT kind, score, comment, responded_at, user_id FROM surveys "
        "WHERE account_id = ? AND deleted_at IS NULL AND responded_at >= ?",
        [account_id, since],
    ).fetchall()
    entries = []
    for kind, score, comment, at, user in rows:
        low = (kind == "nps" and score <= 6) or (kind == "csat" and score <= 2)
        title = f"{str(kind).upper()} {score:g}" + (f" from {user}" if user else "")
        entries.append(TimelineEntry(at, "survey", title, comment, "bad" if low else None))
    return entries


def _ratings(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT rating, csm, note, rated_at FROM csm_ratings "
        "WHERE account_id = ? AND deleted_at IS NULL AND rated_at >= ?",
        [account_id, since],
    ).fetchall()
    tones = {"red": "bad", "green": "good"}
    return [
        TimelineEntry(
            at,
            "rating",
            f"CSM rating {rating}" + (f" by {csm}" if csm else ""),
            note,
            tones.get(rating),
        )
        for rating, csm, note, at in rows
    ]


def _business(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT kind, detail, occurred_at FROM business_events "
        "WHERE account_id = ? AND deleted_at IS NULL AND occurred_at >= ?",
        [account_id, since],
    ).fetchall()
    return [
        TimelineEntry(at, "business", str(kind).replace("_", " ").capitalize(), detail, "bad")
        for kind, detail, at in rows
    ]


def _outcomes(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT kind, arr_before, arr_after, occurred_at FROM outcomes "
        "WHERE account_id = ? AND deleted_at IS NULL AND occurred_at >= ?",
        [account_id, since],
    ).fetchall()
    tones = {"churned": "bad", "contracted": "bad", "renewed": "good", "expanded": "good"}
    return [
        TimelineEntry(
            at,
            "outcome",
            str(kind).capitalize(),
            f"ARR {_money(old)} → {_money(new)}",
            tones.get(kind),
        )
        for kind, old, new, at in rows
    ]


@dataclass(frozen=True)
class EventSummary:
    """An account's product events read in one scan: per week and per user.

    The timeline's weekly usage and the contacts' last activity both need a scan of the
    account's events, the costliest read of the timeline page; this does both at once.
    """

    weeks: list[tuple[dt.datetime, int, int]]  # Monday, events, distinct users
    last_seen: dict[str, dt.datetime]  # user_id → their newest event


def event_summary(connection: Any, account_id: str) -> EventSummary:
    """Return the account's weekly event totals and each user's newest event (one scan)."""
    rows = connection.execute(
        "SELECT GROUPING(week) AS per_user, week, user_id, count(*), "
        "count(DISTINCT user_id), max(timestamp) "
        "FROM (SELECT date_trunc('week', timestamp) AS week, user_id, timestamp FROM events "
        "WHERE account_id = ?) GROUP BY GROUPING SETS ((week), (user_id))",
        [account_id],
    ).fetchall()
    weeks = [(_stamp(w), n, users) for per_user, w, _, n, users, _ in rows if not per_user]
    seen = {u: last for per_user, _, u, _, _, last in rows if per_user and u is not None}
    return EventSummary(weeks=weeks, last_seen=seen)


def usage_entries(
    weeks: list[tuple[dt.datetime, int, int]], since: dt.datetime
) -> list[TimelineEntry]:
    """One entry per week of product use since `since` (weeks from `event_summary`)."""
    return [
        TimelineEntry(week, "usage", f"Usage: {n:,} events by {users:,} users", "week from Monday")
        for week, n, users in weeks
        if week >= since
    ]


def _usage(con: Any, account_id: str, since: dt.datetime) -> list[TimelineEntry]:
    rows = con.execute(
        "SELECT date_trunc('week', timestamp) AS week, count(*), count(DISTINCT user_id) "
        "FROM events WHERE account_id = ? AND timestamp >= ? GROUP BY week",
        [account_id, date_trunc_week(since)],
    ).fetchall()
    return usage_entries([(_stamp(w), n, users) for w, n, users in rows], since)


def date_trunc_week(at: dt.datetime) -> dt.datetime:
    """Return the Monday 00:00 of `at`'s week (the weekly usage totals' buckets)."""
    return dt.datetime.combine(at.date() - dt.timedelta(days=at.weekday()), dt.time())


# The table each kind reads: a workspace that never evaluated alerts has no `alerts` table.
TABLES = {
    "score": "scores",
    "alert": "alerts",
    "task": "tasks",
    "override": "overrides",
    "note": "notes",
    "ticket": "tickets",
    "invoice": "invoices",
    "survey": "surveys",
    "rating": "csm_ratings",
    "business": "business_events",
    "outcome": "outcomes",
    "usage": "events",
}
Reader = Callable[[Any, str, dt.datetime], list[TimelineEntry]]
READERS: dict[str, Reader] = {
    "alert": _alerts,
    "task": _tasks,
    "override": _overrides,
    "note": _notes,
    "ticket": _tickets,
    "invoice": _invoices,
    "survey": _surveys,
    "rating": _ratings,
    "business": _business,
    "outcome": _outcomes,
    "usage": _usage,
}
