"""Calls to action: tasks opened from playbooks, closed by hand with an outcome or by themselves.

A rule with a `playbook` opens one task per alert. When the alert resolves itself (its
condition cleared), its unfinished tasks close with the outcome "condition cleared".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import string
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from vitalsign.alerts.config import AlertConfig, Playbook
from vitalsign.alerts.filters import where_clause
from vitalsign.alerts.messages import plain
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.errors import AlertError
from vitalsign.store.overrides import audit
from vitalsign.store.transaction import transaction

TASK_STATUSES = ("open", "in_progress", "closed")
ACTIVE = ("open", "in_progress")
TEMPLATE_FIELDS = (
    "account_id",
    "account_name",
    "owner",
    "rule",
    "severity",
    "summary",
    "score",
    "band",
    "snapshot_date",
)
AUTO_OUTCOME = "condition cleared"


def utc_now() -> dt.datetime:
    """Return the current UTC time without a time zone (how the tables store time)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def tasks_today(connection: Any) -> dt.date:
    """Return the day tasks are due against: the latest snapshot date (else the UTC date).

    A workspace scored daily has its latest snapshot today; a demo or a replayed history
    ends earlier, and judging its tasks against the wall clock would make all of them
    overdue. The digest judges against its snapshot date the same way.
    """
    row = connection.execute("SELECT max(snapshot_date) FROM scores").fetchone()
    return utc_now().date() if row is None or row[0] is None else pd.Timestamp(row[0]).date()


def is_overdue(due_date: dt.date | None, status: str, today: dt.date) -> bool:
    """Return whether an unfinished task's due date lies before `today` (tasks_today)."""
    return status != "closed" and due_date is not None and due_date < today


def past_due_warning(due_date: dt.date | None, today: dt.date) -> str | None:
    """Return a warning when a due date being set lies before `today`, else None."""
    if due_date is None or due_date >= today:
        return None
    return (
        f"warning: due date {due_date} is before today ({today}, the latest snapshot date); "
        "the task is overdue from the start. Give a later --due if that was a typo."
    )


@dataclass(frozen=True)
class Task:
    """One task: what to do for which account, by whom, by when, and how it ended."""

    task_id: str
    alert_id: str | None
    account_id: str
    playbook: str
    title: str
    steps: list[str]
    assignee: str | None
    due_date: dt.date | None
    status: str
    outcome: str | None
    closed_by: str | None
    note: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    alert_rule: str | None = None  # the alert a rule's playbook opened this task from
    alert_summary: str | None = None
    alert_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data: dict[str, Any] = plain(asdict(self))
        return data


@dataclass(frozen=True)
class TaskPage:
    """One page of tasks and the total that matched."""

    items: list[Task]
    total: int
    limit: int
    offset: int


def template_problems(text: str) -> str | None:
    """Return what is wrong with a playbook text's {placeholders}, or None."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        return f"{exc} (write {{{{ and }}}} for literal braces)"
    unknown = [f for f in fields if f not in TEMPLATE_FIELDS]
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; use {', '.join(TEMPLATE_FIELDS)}"
    return None


def task_row(
    config: AlertConfig,
    playbook_name: str,
    playbook: Playbook,
    alert: dict[str, Any],
    day: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    """Return the task a playbook opens for a new alert."""
    fields = {k: "" if alert.get(k) is None else alert.get(k) for k in TEMPLATE_FIELDS}
    owner = alert.get("owner")
    if playbook.assignee == "owner":
        assignee = owner
    else:
        assignee = config.roles.get(playbook.assignee, playbook.assignee)
    task_id = "t-" + hashlib.sha1(f"task|{alert['alert_id']}".encode()).hexdigest()[:12]
    return {
        "task_id": task_id,
        "alert_id": alert["alert_id"],
        "account_id": alert["account_id"],
        "playbook": playbook_name,
        "title": playbook.title.format_map(fields),
        "steps": json.dumps([step.format_map(fields) for step in playbook.steps]),
        "assignee": assignee,
        "due_date": day + dt.timedelta(days=playbook.due_days),
        "status": "open",
        "outcome": None,
        "closed_by": None,
        "note": None,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
    }


def auto_close_tasks(connection: Any, alert_ids: list[str], now: dt.datetime) -> int:
    """Close the unfinished tasks of resolved alerts (inside the caller's transaction)."""
    if not alert_ids:
        return 0
    count = connection.execute(
        "SELECT count(*) FROM tasks WHERE status IN ('open', 'in_progress') "
        "AND alert_id IN (SELECT UNNEST(?::VARCHAR[]))",
        [alert_ids],
    ).fetchone()[0]
    connection.execute(
        "UPDATE tasks SET status = 'closed', outcome = ?, closed_by = 'auto', closed_at = ?, "
        "updated_at = ? WHERE status IN ('open', 'in_progress') "
        "AND alert_id IN (SELECT UNNEST(?::VARCHAR[]))",
        [AUTO_OUTCOME, now, now, alert_ids],
    )
    return int(count)


def _task(row: dict[str, Any]) -> Task:
    def optional(value: Any) -> Any:
        return None if value is None or value is pd.NaT or pd.isna(value) else value

    due = optional(row["due_date"])
    return Task(
        task_id=str(row["task_id"]),
        alert_id=optional(row["alert_id"]),
        account_id=str(row["account_id"]),
        playbook=str(row["playbook"]),
        title=str(row["title"]),
        steps=list(json.loads(row["steps"])),
        assignee=optional(row["assignee"]),
        due_date=pd.Timestamp(due).date() if due is not None else None,
        status=str(row["status"]),
        outcome=optional(row["outcome"]),
        closed_by=optional(row["closed_by"]),
        note=optional(row["note"]),
        created_at=pd.Timestamp(row["created_at"]).to_pydatetime(),
        updated_at=pd.Timestamp(row["updated_at"]).to_pydatetime(),
        closed_at=(
            pd.Timestamp(row["closed_at"]).to_pydatetime()
            if optional(row["closed_at"]) is not None
            else None
        ),
        alert_rule=optional(row.get("alert_rule")),
        alert_summary=optional(row.get("alert_summary")),
        alert_status=optional(row.get("alert_status")),
    )


_WITH_ALERT = (
    "SELECT t.*, a.rule AS alert_rule, a.summary AS alert_summary, a.status AS alert_status "
    "FROM tasks t LEFT JOIN alerts a USING (alert_id)"
)


def list_tasks(
    connection: Any,
    *,
    account_id: str | None = None,
    assignee: str | None = None,
    status: str | None = "active",
    alert_id: str | None = None,
    account_ids: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> TaskPage:
    """Return tasks, soonest due first; status "active" means open or in progress.

    `account_ids` restricts to those accounts (e.g. the book of the user asking).

    >>> list_tasks(ws.duckdb, assignee="ann").items[0].title  # doctest: +SKIP
    'Call Acme about the failed payment'
    """
    ensure_alert_tables(connection)
    if status not in (None, "active", *TASK_STATUSES):
        raise AlertError(f"task status {status!r}: use active, {', '.join(TASK_STATUSES)}")
    clause, params = where_clause(
        {"account_id": account_id, "assignee": assignee, "alert_id": alert_id},
        account_ids,
        status,
        ("open", "in_progress"),
    )
    total = connection.execute(f"SELECT count(*) FROM tasks WHERE {clause}", params).fetchone()[0]
    frame = connection.execute(
        f"SELECT * FROM ({_WITH_ALERT}) WHERE {clause} "
        "ORDER BY due_date NULLS LAST, created_at, account_id, task_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).df()
    items = [_task(r) for r in frame.to_dict("records")]
    return TaskPage(items=items, total=int(total), limit=limit, offset=offset)


def get_task(connection: Any, task_id: str) -> Task:
    """Return one task or raise AlertError."""
    ensure_alert_tables(connection)
    frame = connection.execute(f"{_WITH_ALERT} WHERE t.task_id = ?", [task_id]).df()
    if frame.empty:
        raise AlertError(f"no task {task_id!r}; list them with `vitalsign tasks`")
    return _task(frame.to_dict("records")[0])


def update_task(
    connection: Any,
    task_id: str,
    actor: str,
    *,
    status: str | None = None,
    assignee: str | None = None,
    due_date: dt.date | None = None,
    note: str | None = None,
) -> Task:
    """Change a task's status (open, in_progress), assignee, due date or note; audited."""
    current = get_task(connection, task_id)
    if status is not None and status not in ACTIVE:
        raise AlertError(
            f"status {status!r}: use open or in_progress; close a task with an outcome "
            "(`vitalsign tasks close ID --outcome ...`)"
        )
    changes: dict[str, Any] = {
        k: v
        for k, v in (
            ("status", status),
            ("assignee", assignee),
            ("due_date", due_date),
            ("note", note),
        )
        if v is not None
    }
    if not changes:
        raise AlertError("nothing to change: give --status, --assignee, --due or --note")
    now = utc_now()
    if status is not None and current.status == "closed":
        changes.update(outcome=None, closed_by=None, closed_at=None)
    assignments = ", ".join(f"{k} = ?" for k in changes)
    with transaction(connection):
        connection.execute(
            f"UPDATE tasks SET {assignments}, updated_at = ? WHERE task_id = ?",
            [*changes.values(), now, task_id],
        )
        audit(connection, actor, "task.update", task_id, changes)
    return get_task(connection, task_id)


def close_task(connection: Any, task_id: str, actor: str, outcome: str) -> Task:
    """Close a task by hand with an outcome (e.g. "saved: renewed for a year"); audited."""
    current = get_task(connection, task_id)
    if not outcome.strip():
        raise AlertError('closing a task needs an outcome (--outcome "what happened")')
    if current.status == "closed":
        raise AlertError(f"task {task_id} is already closed ({current.outcome})")
    now = utc_now()
    with transaction(connection):
        connection.execute(
            "UPDATE tasks SET status = 'closed', outcome = ?, closed_by = ?, closed_at = ?, "
            "updated_at = ? WHERE task_id = ?",
            [outcome, actor, now, now, task_id],
        )
        audit(connection, actor, "task.close", task_id, {"outcome": outcome})
    return get_task(connection, task_id)


MANUAL = "manual"  # the playbook column of a task created by hand


def create_task(
    connection: Any,
    account_id: str,
    actor: str,
    title: str,
    *,
    assignee: str | None = None,
    due_date: dt.date | None = None,
    steps: Sequence[str] = (),
    note: str | None = None,
) -> Task:
    """Create a task by hand on an account (playbook "manual", no alert); audited.

    >>> create_task(ws.duckdb, "acct-0042", "ann", "Call the CFO").status  # doctest: +SKIP
    'open'
    """
    ensure_alert_tables(connection)
    if not title.strip():
        raise AlertError('a task needs a title (--title "what to do")')
    known = connection.execute(
        "SELECT owner FROM accounts WHERE account_id = ?", [account_id]
    ).fetchone()
    if known is None:
        raise AlertError(f"no account {account_id!r}; list them with `vitalsign report`")
    now = utc_now()
    task_id = "t-" + hashlib.sha1(f"manual|{account_id}|{title}|{now}".encode()).hexdigest()[:12]
    row = {
        "task_id": task_id,
        "alert_id": None,
        "account_id": account_id,
        "playbook": MANUAL,
        "title": title.strip(),
        "steps": json.dumps([s.strip() for s in steps if s.strip()]),
        "assignee": assignee or known[0],
        "due_date": due_date,
        "status": "open",
        "note": note or None,
        "created_at": now,
        "updated_at": now,
    }
    with transaction(connection):
        connection.execute(
            f"INSERT INTO tasks ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        audit(connection, actor, "task.create", task_id, {k: str(v) for k, v in row.items()})
    return get_task(connection, task_id)
