"""Evaluate the rules on a snapshot and keep the alerts' lifecycle: open, keep, resolve.

Hygiene, per account and rule: at most one open alert (deduplicated; an open alert only
updates its latest values); an alert resolves itself on the first evaluated snapshot where
its condition no longer holds, closing its tasks; after it resolves, the rule stays quiet
for that account for its cooldown (counted in snapshot days). Everything one evaluation
changes (alerts, tasks, outbox messages, the run record) is written in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.alerts.config import AlertConfig, ChannelName
from vitalsign.alerts.messages import alert_subject, describe, plain
from vitalsign.alerts.outbox import enqueue, message_rows
from vitalsign.alerts.rules import RuleContext, evaluate_rule
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.alerts.tasks import auto_close_tasks, task_row, utc_now
from vitalsign.engine.snapshots import resolve_date, snapshot_dates
from vitalsign.errors import AlertError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.transaction import transaction

ALERT_COLUMNS = [
    "alert_id",
    "rule",
    "rule_type",
    "severity",
    "account_id",
    "account_name",
    "owner",
    "model_name",
    "model_hash",
    "snapshot_date",
    "fired_values",
    "summary",
    "status",
    "delivery",
    "opened_at",
    "last_seen_date",
    "last_values",
]


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
    queued: int = 0
    tasks_opened: int = 0
    tasks_closed: int = 0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """Return a one-line summary."""
        held = f", {self.held_back} held back (stale or missing data)" if self.held_back else ""
        return (
            f"Alerts on {self.snapshot_date} ({self.model_name}): {len(self.opened)} opened, "
            f"{self.kept} still open, {len(self.resolved)} resolved, {self.suppressed} in "
            f"cooldown{held}; {self.tasks_opened} tasks opened, {self.tasks_closed} closed; "
            f"{self.queued} messages queued"
        )


def alert_id_for(model_name: str, rule: str, account_id: str, day: dt.date) -> str:
    """Return the deterministic id of the alert a rule opens for an account on a day."""
    key = f"{model_name}|{rule}|{account_id}|{day.isoformat()}"
    return "a-" + hashlib.sha1(key.encode()).hexdigest()[:14]


def last_evaluated(connection: Any, model_name: str) -> dt.date | None:
    """Return the latest snapshot date whose alerts were evaluated."""
    ensure_alert_tables(connection)
    row = connection.execute(
        "SELECT max(snapshot_date) FROM alert_runs WHERE model_name = ?", [model_name]
    ).fetchone()
    return None if row[0] is None else pd.Timestamp(row[0]).date()


def _holding(connection: Any, config: AlertConfig, ctx: RuleContext) -> pd.DataFrame:
    frames = []
    for name, rule in config.rules.items():
        frame = evaluate_rule(connection, rule, ctx)
        frames.append(frame.assign(rule=name))
    if not frames:
        return pd.DataFrame(columns=["rule", "account_id", "fired", "values", "held_back"])
    return pd.concat(frames, ignore_index=True)


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
) -> EvaluationReport:
    """Evaluate every rule on the snapshot of `as_of` (default: the latest) and store alerts.

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
    earlier = [d for d in snapshot_dates(connection, model.name) if d < day]
    ctx = RuleContext(model=model.spec, day=day, previous=earlier[-1] if earlier else None)
    now = now or utc_now()
    report = EvaluationReport(model_name=model.name, snapshot_date=day)
    holding = _holding(connection, config, ctx)
    population = _population(connection, model.name, day)
    open_alerts = connection.execute(
        "SELECT alert_id, rule, account_id FROM alerts "
        "WHERE model_name = ? AND status IN ('open', 'acknowledged')",
        [model.name],
    ).df()
    merged = open_alerts.merge(holding, on=["rule", "account_id"], how="left", indicator=True)
    kept = merged[merged["_merge"] == "both"]
    gone = merged[merged["_merge"] == "left_only"]
    fired = holding[holding["fired"]]
    already_open = pd.MultiIndex.from_frame(fired[["rule", "account_id"]]).isin(
        pd.MultiIndex.from_frame(open_alerts[["rule", "account_id"]])
    )
    candidates = fired[~already_open]
    held = holding[holding["held_back"].astype(bool)]
    report.held_back = int(
        (
            ~pd.MultiIndex.from_frame(held[["rule", "account_id"]]).isin(
                pd.MultiIndex.from_frame(open_alerts[["rule", "account_id"]])
            )
        ).sum()
    )
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
        alert = _new_alert(config, model, population, rule_name, account_id, values, day, now)
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
        "rule removed from alerts.yml"
        if r not in config.rules
        else ("account not scored" if a not in population.index else "condition cleared")
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
        _insert(connection, "alerts", [{k: a[k] for k in ALERT_COLUMNS} for a in new_rows])
        _insert(connection, "tasks", task_rows)
        report.queued = enqueue(connection, outbox_rows)
        connection.execute(
            "INSERT INTO alert_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [model.name, day, now, len(new_rows), len(kept), len(gone), report.suppressed],
        )
    report.kept = len(kept)
    report.resolved = list(gone["alert_id"])
    report.tasks_opened = len(task_rows)
    return report


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


def _new_alert(
    config: AlertConfig,
    model: LoadedModel,
    population: pd.DataFrame,
    rule_name: str,
    account_id: str,
    values: dict[str, Any],
    day: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    rule = config.rules[rule_name]
    account = population.loc[account_id]
    owner = account["owner"] if isinstance(account["owner"], str) else config.fallback_owner
    fired = plain(
        {
            **values,
            "score": account["score"],
            "band": account["band"],
            "computed_band": account["computed_band"],
        }
    )
    summary = describe(rule.type, fired)
    encoded = json.dumps(fired, sort_keys=True)
    return {
        "alert_id": alert_id_for(model.name, rule_name, account_id, day),
        "rule": rule_name,
        "rule_type": rule.type,
        "severity": rule.severity,
        "account_id": account_id,
        "account_name": account["name"] if isinstance(account["name"], str) else None,
        "owner": owner,
        "model_name": model.name,
        "model_hash": str(account["model_hash"]),
        "snapshot_date": day,
        "fired_values": encoded,
        "summary": summary,
        "status": "open",
        "delivery": "none",
        "opened_at": now,
        "last_seen_date": day,
        "last_values": encoded,
        # for messages only
        "score": fired["score"],
        "band": fired["band"],
        "computed_band": fired["computed_band"],
        "values": fired,
    }


def alert_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON-ready alert that messages carry."""
    payload: dict[str, Any] = plain(
        {k: v for k, v in alert.items() if k not in ("fired_values", "last_values")}
    )
    return payload


def _insert(connection: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows)
    connection.register("_new_rows", frame)
    try:
        connection.execute(
            f"INSERT OR IGNORE INTO {table} ({', '.join(frame.columns)}) "
            f"SELECT {', '.join(frame.columns)} FROM _new_rows"
        )
    finally:
        connection.unregister("_new_rows")


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
    return [
        evaluate_alerts(connection, config, model, d, notify=notify and d == dates[-1])
        for d in dates
    ]
