"""Evaluate the rules on a snapshot and keep the alerts' lifecycle: open, keep, resolve.

Hygiene, per account and rule: at most one open alert (deduplicated; an open alert only
updates its latest values); an alert opens once its condition held on enough consecutive
snapshots (persistence) and not on a rule's first evaluation (the baseline); it resolves
itself on the first evaluated snapshot where its condition no longer holds, loosened by the
rule's margin (hysteresis), closing its tasks; after it resolves, the rule stays quiet for
that account for its cooldown (counted in snapshot days). Reminder rules give digest lines
instead of alerts (reminders.py). Everything one evaluation
changes (alerts, tasks, outbox messages, the run record) is written in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.alerts.baseline import read_baseline, write_baseline
from vitalsign.alerts.config import AlertConfig, ChannelName
from vitalsign.alerts.messages import alert_subject, plain, plural
from vitalsign.alerts.opening import ALERT_COLUMNS, alert_payload, insert_rows, new_alert
from vitalsign.alerts.outbox import enqueue, message_rows
from vitalsign.alerts.reminders import is_reminder, update_reminders
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.alerts.tasks import auto_close_tasks, task_row, utc_now
from vitalsign.alerts.verdicts import RuleCache, judge
from vitalsign.engine.snapshots import resolve_date, snapshot_dates
from vitalsign.errors import AlertError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.transaction import transaction


@dataclass
class EvaluationReport:
    """What one evaluation did on one snapshot."""

    model_name: str
    snapshot_date: dt.date
    opened: list[str] = field(default_factory=list)
    kept: int = 0
    resolved: list[str] = field(default_factory=list)
    suppressed: int = 0
    held_back: int = 0  # changes that did not fire: stale or newly missing data
    waiting: int = 0  # fired, not yet held on enough snapshots (persistence)
    baseline: int = 0  # accounts a rule's first evaluation recorded instead of alerting
    reminders: int = 0  # accounts in the owners' reminder lines
    queued: int = 0
    tasks_opened: int = 0
    tasks_closed: int = 0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """Return a one-line summary."""
        held = f", {self.held_back} held back (stale or missing data)" if self.held_back else ""
        waiting = f", {self.waiting} waiting to persist" if self.waiting else ""
        base = f", {self.baseline} recorded as the baseline" if self.baseline else ""
        reminders = f"; {plural(self.reminders, 'account')} in reminders" if self.reminders else ""
        return (
            f"Alerts on {self.snapshot_date} ({self.model_name}): {len(self.opened)} opened, "
            f"{self.kept} still open, {len(self.resolved)} resolved, {self.suppressed} in "
            f"cooldown{held}{waiting}{base}; {plural(self.tasks_opened, 'task')} opened, "
            f"{self.tasks_closed} closed; {plural(self.queued, 'message')} queued{reminders}"
        )


def last_evaluated(connection: Any, model_name: str) -> dt.date | None:
    """Return the latest snapshot date whose alerts were evaluated."""
    ensure_alert_tables(connection)
    row = connection.execute(
        "SELECT max(snapshot_date) FROM alert_runs WHERE model_name = ?", [model_name]
    ).fetchone()
    return None if row[0] is None else pd.Timestamp(row[0]).date()


def _population(connection: Any, model_name: str, day: dt.date) -> pd.DataFrame:
    frame: pd.DataFrame = connection.execute(
        "SELECT account_id, name, owner, score, band, computed_band, model_hash FROM scores "
        "WHERE model_name = ? AND snapshot_date = ?",
        [model_name, day],
    ).df()
    return frame.set_index("account_id")


def _delivery(config: AlertConfig, rule_delivery: str, owner: str | None, notify: bool) -> str:
    if not notify or rule_delivery == "none":
        return "none"
    if rule_delivery in ("immediate", "digest"):
        return rule_delivery
    return "digest" if config.digest_frequency(owner) else "immediate"


def evaluate_alerts(
    connection: Any,
    config: AlertConfig,
    model: LoadedModel,
    as_of: dt.date | None = None,
    notify: bool = True,
    now: dt.datetime | None = None,
    cache: RuleCache | None = None,
) -> EvaluationReport:
    """Evaluate every rule on the snapshot of `as_of` (default: the latest) and store alerts.

    `cache` reuses rule evaluations of earlier snapshots across the dates of a replay.

    >>> evaluate_alerts(ws.duckdb, config, ws.load_model()).line()  # doctest: +SKIP
    'Alerts on 2025-06-02 (default): 4 opened, 12 still open, 2 resolved, ...'
    """
    ensure_alert_tables(connection)
    day = resolve_date(connection, model.name, as_of)
    last = last_evaluated(connection, model.name)
    if last is not None and day < last:
        raise AlertError(
            f"alerts of model {model.name!r} were already evaluated up to {last}; evaluate "
            f"{last} again or a later snapshot (history is evaluated in date order)"
        )
    dates = snapshot_dates(connection, model.name)
    now = now or utc_now()
    report = EvaluationReport(model_name=model.name, snapshot_date=day)
    verdicts = judge(connection, config, model.spec, day, dates, cache)
    holding = verdicts.holding
    population = _population(connection, model.name, day)
    open_alerts = connection.execute(
        "SELECT alert_id, rule, account_id FROM alerts "
        "WHERE model_name = ? AND status IN ('open', 'acknowledged')",
        [model.name],
    ).df()
    open_pairs = pd.MultiIndex.from_frame(open_alerts[["rule", "account_id"]])
    merged = open_alerts.merge(
        verdicts.keeping, on=["rule", "account_id"], how="left", indicator=True
    )
    kept = merged[merged["_merge"] == "both"]
    gone = merged[merged["_merge"] == "left_only"]
    fresh = verdicts.candidates
    fresh = fresh[~pd.MultiIndex.from_frame(fresh[["rule", "account_id"]]).isin(open_pairs)]
    baseline = read_baseline(connection, model.name, config.rules, day, config.baseline)
    silenced = [
        baseline.silences(r, a)
        for r, a in zip(fresh["rule"].astype(str), fresh["account_id"].astype(str), strict=True)
    ]
    candidates = fresh.loc[~pd.Series(silenced, index=fresh.index, dtype=bool)]
    held = holding[holding["held_back"].astype(bool)]
    report.held_back = int(
        (~pd.MultiIndex.from_frame(held[["rule", "account_id"]]).isin(open_pairs)).sum()
    )
    report.waiting = verdicts.waiting
    cooling = _cooling(connection, config, model.name, day)
    new_rows, task_rows, outbox_rows = [], [], []
    for rule_name, account_id, values in zip(
        candidates["rule"].astype(str),
        candidates["account_id"].astype(str),
        candidates["values"],
        strict=True,
    ):
        if cooling.get((rule_name, account_id), dt.date.min) > day:
            report.suppressed += 1
            continue
        alert = new_alert(config, model, population, rule_name, account_id, values, day, now)
        rule = config.rules[rule_name]
        alert["delivery"] = _delivery(config, rule.delivery, alert["owner"], notify)
        if rule.playbook is not None:
            task = task_row(config, rule.playbook, config.playbooks[rule.playbook], alert, day, now)
            task_rows.append(task)
            alert["task"] = {
                "task_id": task["task_id"],
                "title": task["title"],
                "steps": json.loads(task["steps"]),
                "assignee": task["assignee"],
                "due_date": task["due_date"].isoformat(),
            }
        if alert["delivery"] == "immediate":
            channels: list[ChannelName] = list(rule.channels or config.channels.names)
            rows, warnings = message_rows(
                config,
                channels,
                alert["owner"],
                alert["alert_id"],
                "alert",
                alert_subject(alert),
                {"alert": alert_payload(alert)},
                now,
            )
            outbox_rows += rows
            report.warnings += warnings
        new_rows.append(alert)
        report.opened.append(alert["alert_id"])
    reasons = [
        _reason(config, population, r, a)
        for r, a in zip(gone["rule"], gone["account_id"], strict=True)
    ]
    with transaction(connection):
        if len(kept):
            updates = pd.DataFrame(
                {
                    "alert_id": kept["alert_id"],
                    "last_values": [json.dumps(plain(v), sort_keys=True) for v in kept["values"]],
                }
            )
            connection.register("_kept", updates)
            connection.execute(
                "UPDATE alerts SET last_seen_date = ?, last_values = _kept.last_values "
                "FROM _kept WHERE alerts.alert_id = _kept.alert_id",
                [day],
            )
            connection.unregister("_kept")
        if len(gone):
            resolved = pd.DataFrame({"alert_id": gone["alert_id"], "reason": reasons})
            connection.register("_gone", resolved)
            connection.execute(
                "UPDATE alerts SET status = 'resolved', resolved_date = ?, resolved_at = ?, "
                "resolved_reason = _gone.reason FROM _gone WHERE alerts.alert_id = _gone.alert_id",
                [day, now],
            )
            connection.unregister("_gone")
            report.tasks_closed = auto_close_tasks(connection, list(gone["alert_id"]), now)
        insert_rows(connection, "alerts", [{k: a[k] for k in ALERT_COLUMNS} for a in new_rows])
        insert_rows(connection, "tasks", task_rows)
        report.queued = enqueue(connection, outbox_rows)
        report.baseline = write_baseline(
            connection, model.name, day, config.rules, baseline, holding
        )
        report.reminders = update_reminders(
            connection, config, model.name, day, verdicts.reminding, population
        )
        connection.execute(
            "INSERT INTO alert_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [model.name, day, now, len(new_rows), len(kept), len(gone), report.suppressed],
        )
    report.kept = len(kept)
    report.resolved = list(gone["alert_id"])
    report.tasks_opened = len(task_rows)
    return report


def _reason(config: AlertConfig, population: pd.DataFrame, rule: str, account_id: str) -> str:
    if rule not in config.rules:
        return "rule removed from alerts.yml"
    if account_id not in population.index:
        return "account not scored"
    if is_reminder(config.rules[rule]):
        return "rule gives reminders in the digest now"
    return "condition cleared"


def _cooling(
    connection: Any, config: AlertConfig, model_name: str, day: dt.date
) -> dict[tuple[str, str], dt.date]:
    """Return, per (rule, account), the first day the rule may fire again after a resolve."""
    frame = connection.execute(
        "SELECT rule, account_id, max(resolved_date) AS resolved FROM alerts "
        "WHERE model_name = ? AND status = 'resolved' AND resolved_date <= ? "
        "GROUP BY rule, account_id",
        [model_name, day],
    ).df()
    until: dict[tuple[str, str], dt.date] = {}
    for row in frame.itertuples(index=False):
        rule = config.rules.get(str(row.rule))
        if rule is not None and rule.cooldown_days:
            resolved = pd.Timestamp(row.resolved).date()
            until[(str(row.rule), str(row.account_id))] = resolved + dt.timedelta(
                days=rule.cooldown_days
            )
    return until


def evaluate_history(
    connection: Any,
    config: AlertConfig,
    model: LoadedModel,
    start: dt.date,
    end: dt.date,
    notify: bool = True,
) -> list[EvaluationReport]:
    """Replay every snapshot in [start, end] not yet evaluated, in date order.

    Only the last date's new alerts are queued for delivery (none without `notify`); earlier
    ones are recorded (for stats and explanations) with delivery "none".
    """
    last = last_evaluated(connection, model.name)
    dates = [
        d
        for d in snapshot_dates(connection, model.name)
        if start <= d <= end and (last is None or d > last)
    ]
    cache = RuleCache()
    return [
        evaluate_alerts(connection, config, model, d, notify=notify and d == dates[-1], cache=cache)
        for d in dates
    ]
