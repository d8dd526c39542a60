"""The persistent outbox: messages are queued in the same transaction as the alert, then sent.

Delivery semantics. A message is written to the `outbox` table together with the alert or
digest it announces, so an alert is never recorded without its messages nor the other way
round. `deliver_due` sends each due message once and marks it delivered in its own small
transaction; a failure schedules the next attempt after an exponential backoff (capped),
and once one message of a channel fails, the channel's other messages wait for the next
attempt instead of piling up timeouts. Every request carries the message id as an
idempotency key (`Idempotency-Key` / `X-Vitalsign-Id` headers, the e-mail's Message-ID):
the only way a receiver can see a message twice is a crash between its reply and our
commit, and then it sees the same id.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.alerts.channels.base import Channel, DeliveryError, Message
from vitalsign.alerts.config import AlertConfig, ChannelName, OutboxPolicy
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.alerts.tasks import utc_now
from vitalsign.errors import AlertError
from vitalsign.store.conflicts import retry_on_conflict
from vitalsign.store.transaction import transaction

Clock = Callable[[], dt.datetime]
OUTBOX_STATUSES = ("pending", "delivered", "failed")


@dataclass
class DeliveryReport:
    """What one or more delivery passes did."""

    delivered: int = 0
    failed: int = 0
    pending: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # channel -> last error
    next_attempt_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is waiting for a retry and nothing gave up."""
        return self.failed == 0 and self.pending == 0


def recipient_for(config: AlertConfig, channel: ChannelName, owner: str | None) -> str | None:
    """Return where a channel sends an owner's messages, or None when it cannot."""
    entry = config.owner(owner)
    if channel == "email":
        if entry.email:
            return entry.email
        if owner and "@" in owner:
            return owner
        if config.fallback_owner and config.fallback_owner != owner:
            return recipient_for(config, channel, config.fallback_owner)
        return None
    if channel == "slack":
        return entry.slack or owner or config.fallback_owner or "(no owner)"
    if channel == "webhook":
        return config.channels.webhook.url if config.channels.webhook else None
    return owner or config.fallback_owner or "(no owner)"


def message_rows(
    config: AlertConfig,
    channels: list[ChannelName],
    owner: str | None,
    key: str,
    kind: str,
    subject: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the outbox rows of one alert or digest (one per channel), and warnings."""
    rows, warnings = [], []
    body = json.dumps(payload, sort_keys=True, default=str)
    for channel in channels:
        recipient = recipient_for(config, channel, owner)
        if recipient is None:
            warnings.append(
                f"{key}: no {channel} address for owner {owner!r}; add owners.{owner}.{channel} "
                "or fallback_owner to alerts.yml"
            )
            continue
        rows.append(
            {
                "message_id": f"{key}.{channel}",
                "channel": channel,
                "recipient": recipient,
                "kind": kind,
                "subject": subject,
                "payload": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "delivered_at": None,
            }
        )
    return rows, warnings


def enqueue(connection: Any, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows (inside the caller's transaction); an id already queued is kept."""
    if not rows:
        return 0
    frame = pd.DataFrame(rows)
    connection.register("_new_outbox", frame)
    try:
        connection.execute(
            f"INSERT OR IGNORE INTO outbox ({', '.join(frame.columns)}) "
            f"SELECT {', '.join(frame.columns)} FROM _new_outbox"
        )
    finally:
        connection.unregister("_new_outbox")
    return len(rows)


def backoff_seconds(policy: OutboxPolicy, attempts: int) -> float:
    """Return the wait after `attempts` failed attempts: base × 2^(attempts − 1), capped."""
    return float(
        min(policy.backoff_seconds * 2 ** max(attempts - 1, 0), policy.backoff_max_seconds)
    )


def _due(connection: Any, now: dt.datetime | None) -> pd.DataFrame:
    frame: pd.DataFrame = connection.execute(
        "SELECT * FROM outbox WHERE status = 'pending' "
        "AND (?::TIMESTAMP IS NULL OR next_attempt_at <= ?::TIMESTAMP) "
        "ORDER BY created_at, message_id",
        [now, now],
    ).df()
    return frame


def _record(connection: Any, message_id: str, update: str, params: list[Any]) -> None:
    """Store what happened to a message; after a write conflict, wait and store it again.

    The message was sent (or tried) already: losing this record would send it twice.
    """

    def write() -> None:
        with transaction(connection):
            connection.execute(update, params)

    retry_on_conflict(write, f"outbox, message {message_id}")


def deliver_due(
    connection: Any,
    channels: Mapping[str, Channel],
    policy: OutboxPolicy,
    clock: Clock = utc_now,
    ignore_backoff: bool = False,
) -> DeliveryReport:
    """Send every pending message whose next attempt is due (all, ignoring backoff); one pass.

    >>> deliver_due(ws.duckdb, build_channels(config.channels), config.outbox)  # doctest: +SKIP
    """
    ensure_alert_tables(connection)
    report = DeliveryReport()
    blocked: dict[str, dt.datetime] = {}  # channel -> its next attempt, after a failure
    for row in _due(connection, None if ignore_backoff else clock()).to_dict("records"):
        name = str(row["channel"])
        if name in blocked:
            _record(
                connection,
                str(row["message_id"]),
                "UPDATE outbox SET next_attempt_at = ? WHERE message_id = ?",
                [blocked[name], row["message_id"]],
            )
            continue
        attempts = int(row["attempts"]) + 1
        channel = channels.get(name)
        try:
            if channel is None:
                raise DeliveryError(f"channel {name} is not configured in alerts.yml")
            channel.send(
                Message(
                    message_id=str(row["message_id"]),
                    channel=name,
                    recipient=str(row["recipient"]),
                    kind=str(row["kind"]),
                    subject=str(row["subject"]),
                    payload=json.loads(row["payload"]),
                )
            )
        except DeliveryError as exc:
            now = clock()
            gave_up = exc.permanent or attempts >= policy.max_attempts
            retry_at = now + dt.timedelta(seconds=backoff_seconds(policy, attempts))
            _record(
                connection,
                str(row["message_id"]),
                "UPDATE outbox SET attempts = ?, last_error = ?, status = ?, "
                "next_attempt_at = ? WHERE message_id = ?",
                [
                    attempts,
                    str(exc),
                    "failed" if gave_up else "pending",
                    retry_at,
                    row["message_id"],
                ],
            )
            report.errors[name] = str(exc)
            if gave_up:
                report.failed += 1
            else:
                blocked[name] = retry_at
            continue
        _record(
            connection,
            str(row["message_id"]),
            "UPDATE outbox SET attempts = ?, status = 'delivered', delivered_at = ?, "
            "last_error = NULL WHERE message_id = ?",
            [attempts, clock(), row["message_id"]],
        )
        report.delivered += 1
    pending = connection.execute(
        "SELECT count(*), min(next_attempt_at) FROM outbox WHERE status = 'pending'"
    ).fetchone()
    report.pending, report.next_attempt_at = int(pending[0]), pending[1]
    return report


def drain(
    connection: Any,
    channels: Mapping[str, Channel],
    policy: OutboxPolicy,
    wait_seconds: float,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    ignore_backoff: bool = False,
) -> DeliveryReport:
    """Deliver, then keep retrying as attempts fall due, for at most `wait_seconds`."""
    deadline = clock() + dt.timedelta(seconds=wait_seconds)
    total = DeliveryReport()
    first = True
    while True:
        report = deliver_due(connection, channels, policy, clock, ignore_backoff and first)
        first = False
        total.delivered += report.delivered
        total.failed += report.failed
        total.errors.update(report.errors)
        total.pending, total.next_attempt_at = report.pending, report.next_attempt_at
        if not report.pending or report.next_attempt_at is None:
            break
        if report.next_attempt_at > deadline:
            break
        sleep(max((report.next_attempt_at - clock()).total_seconds(), 0.0))
    if not total.pending and not total.failed:
        total.errors = {}
    return total


def list_outbox(connection: Any, status: str | None = None, limit: int = 100) -> pd.DataFrame:
    """Return outbox messages, newest first (status: pending, delivered or failed)."""
    ensure_alert_tables(connection)
    if status is not None and status not in OUTBOX_STATUSES:
        raise AlertError(f"outbox status {status!r}: use {', '.join(OUTBOX_STATUSES)}")
    sql = (
        "SELECT message_id, channel, recipient, kind, subject, status, attempts, "
        "next_attempt_at, last_error, created_at, delivered_at FROM outbox"
    )
    params: list[Any] = []
    if status is not None:
        sql += " WHERE status = ?"
        params.append(status)
    frame: pd.DataFrame = connection.execute(
        sql + " ORDER BY created_at DESC, message_id LIMIT ?", [*params, limit]
    ).df()
    return frame


def retry_failed(connection: Any, clock: Clock = utc_now) -> int:
    """Put the messages that gave up back in the queue with fresh attempts; return how many."""
    ensure_alert_tables(connection)
    with transaction(connection):
        count = connection.execute("SELECT count(*) FROM outbox WHERE status = 'failed'").fetchone()
        connection.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? "
            "WHERE status = 'failed'",
            [clock()],
        )
    return int(count[0])
