"""Digests: per owner, daily or weekly, the new, still open and resolved alerts, open tasks
the overrides in force on the owner's accounts, and one line per reminder rule.

An owner is in digest mode when alerts.yml gives them (or everyone, `digest.default`) a
frequency; their alerts are then queued for the digest instead of immediately. A daily
digest is due once per snapshot date; a weekly one on `digest.weekday`, or when the last
one is a week old. A digest with nothing new, nothing resolved and no open task is skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.alerts.config import WEEKDAYS, AlertConfig, ChannelName, Frequency
from vitalsign.alerts.messages import digest_subject, plain
from vitalsign.alerts.outbox import enqueue, message_rows
from vitalsign.alerts.reminders import reminder_lines, reminder_owners
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.alerts.tasks import utc_now
from vitalsign.store.overrides import active_overrides
from vitalsign.store.transaction import transaction

_ALERT_FIELDS = (
    "alert_id, rule, rule_type, severity, account_id, account_name, owner, model_name, "
    "model_hash, snapshot_date, summary, status, resolved_date, last_values"
)


@dataclass
class DigestReport:
    """The digests one call built."""

    digests: list[dict[str, Any]] = field(default_factory=list)
    queued: int = 0
    warnings: list[str] = field(default_factory=list)


def _frequency(config: AlertConfig, owner: str, has_digest_alerts: bool) -> Frequency | None:
    chosen = config.digest_frequency(owner)
    if chosen is None and has_digest_alerts:
        return "daily"  # a rule asked for `delivery: digest` for an owner in immediate mode
    return chosen


def _due(config: AlertConfig, frequency: Frequency, last: dt.date | None, as_of: dt.date) -> bool:
    if last is not None and last >= as_of:
        return False
    if frequency == "daily":
        return True
    on_weekday = as_of.weekday() == WEEKDAYS.index(config.digest.weekday)
    return on_weekday or (last is not None and (as_of - last).days >= 7)


def _alerts(connection: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Return alerts with the score and band of the snapshot they were last seen on.

    A re-seen alert stores only its rule's values (e.g. band_now), not the band: read that
    from the scores of its last_seen_date, falling back on the values it opened with.
    """
    fields = ", ".join(f"a.{f.strip()}" for f in _ALERT_FIELDS.split(","))
    frame = connection.execute(
        f"SELECT {fields}, s.score AS seen_score, s.band AS seen_band, "
        "s.computed_band AS seen_computed_band FROM alerts a LEFT JOIN scores s "
        "ON s.model_name = a.model_name AND s.account_id = a.account_id "
        f"AND s.snapshot_date = a.last_seen_date WHERE {sql}",
        params,
    ).df()
    rows: list[dict[str, Any]] = []
    for record in plain(frame.to_dict("records")):
        values = json.loads(record.pop("last_values"))
        seen = {k: record.pop(f"seen_{k}") for k in ("score", "band", "computed_band")}
        record.update(
            {k: values.get(k) if seen["band"] is None else seen[k] for k in seen},
        )
        rows.append(record)
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(rows, key=lambda a: (order.get(a["severity"], 3), str(a["account_id"])))


def digest_content(
    connection: Any,
    model_name: str,
    owner: str,
    frequency: Frequency,
    as_of: dt.date,
    since: dt.date | None,
    overridable: list[str] | None = None,
    config: AlertConfig | None = None,
) -> dict[str, Any]:
    """Return what a digest for `owner` on `as_of` holds (since the previous one).

    `overridable` lists the signals the model lets people override (all when None);
    with `config`, the owner's reminder lines are included (reminders.py).
    """
    base = "a.model_name = ? AND a.owner = ? AND a.snapshot_date <= ?"
    new = _alerts(
        connection,
        f"{base} AND a.delivery = 'digest' AND a.digest_id IS NULL ORDER BY a.snapshot_date",
        [model_name, owner, as_of],
    )
    fresh = {a["alert_id"] for a in new}
    still_open = [
        a
        for a in _alerts(
            connection,
            f"{base} AND a.status IN ('open', 'acknowledged')",
            [model_name, owner, as_of],
        )
        if a["alert_id"] not in fresh
    ]
    resolved = _alerts(
        connection,
        f"{base} AND a.status = 'resolved' AND a.resolved_date <= ? AND a.resolved_date > ?",
        [model_name, owner, as_of, as_of, since or as_of - dt.timedelta(days=7)],
    )
    tasks = connection.execute(
        "SELECT task_id, account_id, title, due_date, status FROM tasks "
        "WHERE assignee = ? AND status IN ('open', 'in_progress') ORDER BY due_date, task_id",
        [owner],
    ).df()
    task_rows = [
        {**plain(t), "overdue": pd.Timestamp(t["due_date"]).date() < as_of}
        for t in tasks.to_dict("records")
    ]
    owned = connection.execute(
        "SELECT account_id, name, score, band, computed_band FROM scores "
        "WHERE model_name = ? AND snapshot_date = ? AND owner = ? ORDER BY account_id",
        [model_name, as_of, owner],
    ).df()
    bands = owned[owned["band"] != owned["computed_band"]]
    active = active_overrides(connection, [as_of])
    wanted = (active["target"] != "band") & (
        active["target"].isin(overridable) if overridable is not None else True
    )
    signals = active[wanted].merge(owned[["account_id", "name"]], on="account_id")
    overrides = [plain(o) for o in bands.to_dict("records")] + [
        {
            "account_id": o["account_id"],
            "name": o["name"],
            "signal": o["target"],
            "value": o["value"],
        }
        for o in signals.sort_values(["account_id", "target"]).to_dict("records")
    ]
    return {
        "owner": owner,
        "frequency": frequency,
        "model_name": model_name,
        "as_of": as_of.isoformat(),
        "since": since.isoformat() if since else None,
        "new": new,
        "open": still_open,
        "resolved": resolved,
        "tasks": task_rows,
        "overrides": overrides,
        "reminders": reminder_lines(connection, config, model_name, owner) if config else [],
    }


def enqueue_digests(
    connection: Any,
    config: AlertConfig,
    model_name: str,
    as_of: dt.date,
    force: bool = False,
    only_owner: str | None = None,
    now: dt.datetime | None = None,
    overridable: list[str] | None = None,
) -> DigestReport:
    """Build the digests due on `as_of` (all digest owners, or one), queue them; one transaction.

    >>> enqueue_digests(ws.duckdb, config, "default", dt.date(2025, 6, 2)).queued  # doctest: +SKIP
    """
    ensure_alert_tables(connection)
    now = now or utc_now()
    report = DigestReport()
    waiting = connection.execute(
        "SELECT DISTINCT owner FROM alerts WHERE model_name = ? AND delivery = 'digest' "
        "AND digest_id IS NULL AND owner IS NOT NULL",
        [model_name],
    ).fetchall()
    with_alerts = {str(r[0]) for r in waiting}
    known = connection.execute(
        "SELECT DISTINCT owner FROM alerts WHERE model_name = ? AND owner IS NOT NULL",
        [model_name],
    ).fetchall()
    reminded = reminder_owners(connection, model_name)
    owners = sorted(with_alerts | {str(r[0]) for r in known} | set(config.owners) | reminded)
    if only_owner is not None:
        owners = [o for o in owners if o == only_owner] or [only_owner]
    channels: list[ChannelName] = list(config.digest.channels or config.channels.names)
    with transaction(connection):
        for owner in owners:
            frequency = _frequency(config, owner, owner in with_alerts)
            if frequency is None and owner in reminded:
                frequency = "weekly"  # reminders come in a weekly digest for immediate owners
            if frequency is None and not force:
                continue
            frequency = frequency or "daily"
            row = connection.execute(
                "SELECT max(as_of) FROM alert_digests WHERE owner = ? AND as_of <= ?",
                [owner, as_of],
            ).fetchone()
            last = None if row[0] is None else pd.Timestamp(row[0]).date()
            if not force and not _due(config, frequency, last, as_of):
                continue
            if last == as_of:
                continue  # one digest per owner and day
            content = digest_content(
                connection, model_name, owner, frequency, as_of, last, overridable, config
            )
            news = content["new"] or content["resolved"] or content["tasks"]
            if not (news or content["reminders"]) and not force:
                continue
            digest_id = (
                "d-" + hashlib.sha1(f"{model_name}|{owner}|{as_of}".encode()).hexdigest()[:14]
            )
            content["digest_id"] = digest_id
            connection.execute(
                "INSERT INTO alert_digests VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    digest_id,
                    owner,
                    frequency,
                    as_of,
                    last,
                    now,
                    json.dumps(content, sort_keys=True),
                ],
            )
            new_ids = [a["alert_id"] for a in content["new"]]
            if new_ids:
                connection.execute(
                    "UPDATE alerts SET digest_id = ? "
                    "WHERE alert_id IN (SELECT UNNEST(?::VARCHAR[]))",
                    [digest_id, new_ids],
                )
            rows, warnings = message_rows(
                config,
                channels,
                owner,
                digest_id,
                "digest",
                digest_subject(content),
                {"digest": content},
                now,
            )
            report.queued += enqueue(connection, rows)
            report.warnings += warnings
            report.digests.append(content)
    return report
