"""Everything the account page shows: score row, history, explanation, overrides, audit trail.

The explanation is built by the engine's one builder, `vitalsign.engine.explain.explain_items`,
from the rows this module already read: `explain_account` first lists every snapshot date (a
scan of the whole history) and cannot use an index, which costs more than the page's whole
time budget at 100,000 accounts. tests/web/test_views.py checks both give the same explanation.

On the latest snapshot the history, the score row and the signal items come from the
`ServingData` in memory (vitalsign.web.serving_cache) when it holds the current version;
on other dates the row is read from DuckDB and `explain_row` reads the items.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from vitalsign.alerts import list_overrides
from vitalsign.engine.explain import Explanation, explain_items, explain_row
from vitalsign.web.accounts import account_history, plain, score_row
from vitalsign.web.catalog import VERSION_SELECT, Version
from vitalsign.web.serving_cache import ServingData


@dataclass
class AccountView:
    """One account on one snapshot date, with what surrounds it."""

    account_id: str
    as_of: dt.date
    row: dict[str, Any]
    history: list[dict[str, Any]]
    explanation: Explanation
    overrides: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


def _explained(
    connection: Any,
    model_name: str,
    account_id: str,
    day: dt.date,
    serving: ServingData | None,
) -> tuple[dict[str, Any], Explanation]:
    """Return the score row and explanation of one account on `day`, from memory if held."""
    if serving is not None and day == serving.latest:
        row = serving.latest_row(account_id)
        if row is not None:
            items = serving.latest_item_rows(account_id)
            return row, explain_items(model_name, {**row, "account_id": account_id}, items)
    row = score_row(connection, model_name, account_id, day)
    return row, explain_row(connection, model_name, {**row, "account_id": account_id})


ACTIVITY_SQL = f"""
    {VERSION_SELECT.replace("SELECT", "SELECT 'version',")}
    UNION ALL
    SELECT 'overrides', count(*), 0 FROM overrides WHERE account_id = $1
    UNION ALL
    SELECT 'alerts', count(*), count(*) FILTER (WHERE status IN ('open', 'acknowledged'))
    FROM alerts WHERE account_id = $1
    UNION ALL
    SELECT 'tasks', count(*), count(*) FILTER (WHERE status IN ('open', 'in_progress'))
    FROM tasks WHERE account_id = $1
    UNION ALL
    SELECT 'audit', count(*), 0 FROM audit_log WHERE subject = $1"""


@dataclass(frozen=True)
class Activity:
    """How many overrides, alerts, tasks and audit entries concern an account (one query)."""

    overrides: int = 0
    alerts: int = 0
    active_alerts: int = 0
    tasks: int = 0
    active_tasks: int = 0
    audited: int = 0  # audit entries whose subject is the account itself
    version: Version = ()  # of the score history, read in the same query

    @property
    def has_audit(self) -> bool:
        """Whether `account_audit` can find anything (about the account, its alerts or tasks)."""
        return bool(self.audited or self.alerts or self.tasks)


def account_activity(connection: Any, account_id: str) -> Activity:
    """Count what surrounds an account, so that most pages skip the empty lists' queries."""
    rows = connection.execute(ACTIVITY_SQL, [account_id]).fetchall()
    counts = {r[0]: (r[1], r[2]) for r in rows}
    return Activity(
        overrides=counts["overrides"][0],
        alerts=counts["alerts"][0],
        active_alerts=counts["alerts"][1],
        tasks=counts["tasks"][0],
        active_tasks=counts["tasks"][1],
        audited=counts["audit"][0],
        version=counts["version"],
    )


def account_audit(connection: Any, account_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Return the audit entries about the account, its alerts and its tasks, newest first."""
    subjects = (
        "subject = ? OR subject IN (SELECT alert_id FROM alerts WHERE account_id = ?)"
        " OR subject IN (SELECT task_id FROM tasks WHERE account_id = ?)"
    )
    params: list[Any] = [account_id, account_id, account_id]
    rows = connection.execute(
        f"SELECT logged_at, actor, action, subject, detail FROM audit_log WHERE {subjects} "
        "ORDER BY logged_at DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        {
            "logged_at": plain(r[0]),
            "actor": r[1],
            "action": r[2],
            "subject": r[3],
            "detail": json.loads(r[4]) if r[4] else {},
        }
        for r in rows
    ]


def account_overrides(connection: Any, account_id: str) -> list[dict[str, Any]]:
    """Return the account's overrides, newest first, with their state."""
    any_row = connection.execute(
        "SELECT 1 FROM overrides WHERE account_id = ? LIMIT 1", [account_id]
    ).fetchone()
    if any_row is None:  # most accounts: skip building an empty frame
        return []
    frame = list_overrides(connection, account_id, include_inactive=True)
    return [{str(k): plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def account_view(
    connection: Any,
    model_name: str,
    account_id: str,
    as_of: dt.date | None = None,
    serving: ServingData | None = None,
    activity: Activity | None = None,
) -> AccountView:
    """Gather the account page of `account_id` on `as_of` (default: its latest snapshot)."""
    activity = activity or account_activity(connection, account_id)
    cached = None if serving is None else serving.history(account_id)
    history = cached or account_history(connection, model_name, account_id)
    day = as_of or history[-1]["snapshot_date"]
    row, explanation = _explained(connection, model_name, account_id, day, serving)
    return AccountView(
        account_id=account_id,
        as_of=explanation.as_of,
        row={k: plain(v) for k, v in row.items()},
        history=history,
        explanation=explanation,
        overrides=account_overrides(connection, account_id) if activity.overrides else [],
        audit=account_audit(connection, account_id) if activity.has_audit else [],
    )
