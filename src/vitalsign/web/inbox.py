"""Alerts and tasks as a user may see and change them, over the `vitalsign.alerts` API.

A csm sees the alerts routed to them (`alerts.owner`) and the tasks of their accounts, in
both cases only for accounts they own now; acknowledging, rating and updating check the
account of the alert or task first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vitalsign import alerts
from vitalsign.web.access import HttpProblem, Principal, require_account, require_change

ALL = 1_000_000  # "every row" for the alerts API's limit, before a csm's rows are filtered


@dataclass(frozen=True)
class Listing:
    """One page of alerts or tasks and how many match in all."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages."""
        return max(1, -(-self.total // self.per_page))


def _owned_accounts(connection: Any, owner: str) -> set[str]:
    rows = connection.execute("SELECT account_id FROM accounts WHERE owner = ?", [owner]).fetchall()
    return {r[0] for r in rows}


def _page(items: list[Any], page: int, per_page: int) -> Listing:
    start = (page - 1) * per_page
    return Listing(items[start : start + per_page], len(items), page, per_page)


def list_alerts_for(
    connection: Any,
    principal: Principal,
    *,
    account_id: str | None = None,
    owner: str | None = None,
    status: str | None = "active",
    rule: str | None = None,
    severity: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Listing:
    """Return the page of alerts the user may see, newest first."""
    if account_id is not None:
        require_account(connection, principal, account_id)
    scope = principal.scope_owner
    filters: dict[str, Any] = {
        "account_id": account_id,
        "status": status,
        "rule": rule,
        "severity": severity,
    }
    if scope is None:
        found = alerts.list_alerts(
            connection, owner=owner, limit=per_page, offset=(page - 1) * per_page, **filters
        )
        return Listing(found.items, found.total, page, per_page)
    if owner is not None and owner != scope:
        return Listing([], 0, page, per_page)
    found = alerts.list_alerts(connection, owner=scope, limit=ALL, offset=0, **filters)
    mine = _owned_accounts(connection, scope)
    return _page([a for a in found.items if a.account_id in mine], page, per_page)


def list_tasks_for(
    connection: Any,
    principal: Principal,
    *,
    account_id: str | None = None,
    assignee: str | None = None,
    status: str | None = "active",
    page: int = 1,
    per_page: int = 50,
) -> Listing:
    """Return the page of tasks the user may see, soonest due first."""
    if account_id is not None:
        require_account(connection, principal, account_id)
    scope = principal.scope_owner
    if scope is None:
        found = alerts.list_tasks(
            connection,
            account_id=account_id,
            assignee=assignee,
            status=status,
            limit=per_page,
            offset=(page - 1) * per_page,
        )
        return Listing(found.items, found.total, page, per_page)
    found = alerts.list_tasks(
        connection, account_id=account_id, assignee=assignee, status=status, limit=ALL
    )
    mine = _owned_accounts(connection, scope)
    return _page([t for t in found.items if t.account_id in mine], page, per_page)


def alert_for(connection: Any, principal: Principal, alert_id: str) -> alerts.Alert:
    """Return an alert the user may see (AlertError when unknown, 403 when not theirs)."""
    alert = alerts.get_alert(connection, alert_id)
    require_account(connection, principal, alert.account_id)
    return alert


def task_for(connection: Any, principal: Principal, task_id: str) -> alerts.Task:
    """Return a task the user may see (AlertError when unknown, 403 when not theirs)."""
    task = alerts.get_task(connection, task_id)
    require_account(connection, principal, task.account_id)
    return task


def acknowledge(
    connection: Any, principal: Principal, alert_id: str, note: str | None = None
) -> alerts.Alert:
    """Acknowledge an alert as the user (audited by the alerts API)."""
    alert_for(connection, principal, alert_id)
    require_change(principal)
    return alerts.acknowledge_alert(connection, alert_id, principal.name, note or None)


def rate(
    connection: Any, principal: Principal, alert_id: str, useful: bool, note: str | None = None
) -> alerts.Alert:
    """Record the user's feedback on an alert (audited)."""
    alert_for(connection, principal, alert_id)
    require_change(principal)
    return alerts.set_feedback(connection, alert_id, useful, principal.name, note or None)


def require_reassign(principal: Principal, assignee: str) -> None:
    """Refuse a csm handing a task to someone other than themselves."""
    if principal.role != "csm" or assignee in (principal.name, principal.user.owner):
        return
    raise HttpProblem(
        403,
        "forbidden",
        f"a csm may assign a task only to themselves, not to {assignee!r}; ask a manager "
        "or an admin to hand it to someone else",
    )


def change_task(
    connection: Any,
    principal: Principal,
    task_id: str,
    *,
    status: str | None = None,
    assignee: str | None = None,
    due_date: dt.date | None = None,
    note: str | None = None,
    outcome: str | None = None,
) -> alerts.Task:
    """Update a task, or close it with an outcome, as the user (audited).

    Admins and managers may hand a task to anyone; a csm only to themselves (their user
    name or their owner name), never to another owner.
    """
    task = task_for(connection, principal, task_id)
    require_change(principal)
    if assignee is not None and assignee != task.assignee:
        require_reassign(principal, assignee)
    if status == "closed":
        return alerts.close_task(connection, task_id, principal.name, outcome or "closed")
    return alerts.update_task(
        connection,
        task_id,
        principal.name,
        status=status,
        assignee=assignee,
        due_date=due_date,
        note=note,
    )
