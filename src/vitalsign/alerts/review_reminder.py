"""The quarterly review reminder: one message when a review is due, never twice.

alerts.yml's `review: {every: 90d, owners: [...], channels: [...]}` makes the daily job
check whether the review is due: `every` days after the latest stored review
(`vitalsign review` writes them under reviews/), or at once when there has been none.
The message's id names the due date (`review.2026-03-01.email`; `review.first.email`
before any review), and the outbox keeps an id once (INSERT OR IGNORE), so a daily job
that runs again, or every day until someone runs the review, queues nothing more. Running
the review moves the due date, and the next reminder gets a new id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from vitalsign.alerts.config import AlertConfig, ChannelName
from vitalsign.alerts.messages import plural
from vitalsign.alerts.outbox import enqueue, message_rows
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.alerts.tasks import utc_now
from vitalsign.store.transaction import transaction

KIND = "review"


@dataclass
class ReminderResult:
    """What one check of the review reminder did."""

    due: dt.date | None  # None: not due
    queued: int = 0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the daily job's report."""
        if self.due is None:
            return "no review due"
        text = f"review due since {self.due}: {plural(self.queued, 'reminder')} queued"
        return text + (f" ({'; '.join(self.warnings)})" if self.warnings else "")


def due_date(last_review: dt.date | None, every_days: int, today: dt.date) -> dt.date | None:
    """The day the next review fell due, if it is due by `today`; None when it is not yet.

    >>> due_date(dt.date(2026, 1, 1), 90, dt.date(2026, 4, 1))
    datetime.date(2026, 4, 1)
    >>> due_date(dt.date(2026, 1, 1), 90, dt.date(2026, 3, 31)) is None
    True
    """
    if last_review is None:
        return today
    due = last_review + dt.timedelta(days=every_days)
    return due if due <= today else None


def reminder_lines(last_review: dt.date | None, due: dt.date, every_days: int) -> list[str]:
    """The reminder's text, one line each."""
    since = (
        f"The last review was as of {last_review}; reviews are due every {every_days} days."
        if last_review is not None
        else "No quarterly review has been run yet."
    )
    return [
        since,
        f"The quarterly review is due since {due}: run `vitalsign review` (or open /review in "
        "the web app) to backtest the last quarter, check drift and band churn rates, and get "
        "a calibrated proposal.",
    ]


def queue_review_reminder(
    connection: Any,
    config: AlertConfig,
    last_review: dt.date | None,
    today: dt.date,
    now: dt.datetime | None = None,
) -> ReminderResult:
    """Queue the reminder in the outbox when the review is due (once per due date).

    >>> queue_review_reminder(ws.duckdb, config, None, dt.date(2026, 1, 5))  # doctest: +SKIP
    """
    setting = config.review
    if setting is None:
        return ReminderResult(None)
    due = due_date(last_review, setting.every_days, today)
    if due is None:
        return ReminderResult(None)
    ensure_alert_tables(connection)
    configured = config.channels.names
    wanted: list[ChannelName] = list(setting.channels or configured)
    result = ReminderResult(due)
    result.warnings += [
        f"review.channels: {name} is not configured in channels" for name in wanted
        if name not in configured
    ]  # fmt: skip
    channels = [name for name in wanted if name in configured]
    key = "review." + (due.isoformat() if last_review is not None else "first")
    lines = reminder_lines(last_review, due, setting.every_days)
    subject = f"Quarterly review due since {due}"
    owners = setting.owners or [config.fallback_owner or ""]
    rows: list[dict[str, Any]] = []
    for owner in owners:
        payload = {
            "review": {
                "due": due.isoformat(),
                "last_review": None if last_review is None else last_review.isoformat(),
                "every_days": setting.every_days,
                "owner": owner or None,
                "lines": lines,
            }
        }
        suffix = "" if len(owners) == 1 else f".{owner}"
        found, warnings = message_rows(
            config, channels, owner or None, key + suffix, KIND, subject, payload, now or utc_now()
        )
        rows += found
        result.warnings += warnings
    with transaction(connection):
        before = _count(connection, [r["message_id"] for r in rows])
        enqueue(connection, rows)
        result.queued = _count(connection, [r["message_id"] for r in rows]) - before
    return result


def _count(connection: Any, ids: list[str]) -> int:
    if not ids:
        return 0
    row = connection.execute(
        "SELECT count(*) FROM outbox WHERE message_id IN (SELECT UNNEST(?::VARCHAR[]))", [ids]
    ).fetchone()
    return int(row[0]) if row else 0
