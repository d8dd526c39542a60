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
from vitalsign.alerts.grouping import AccountAlerts, group_by_account
from vitalsign.web.access import HttpProblem, Principal, require_account, require_change
from vitalsign.web.api_params import page_count

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
        return page_count(self.total, self.per_page)


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
        if outcome is None or not outcome.strip():
            raise HttpProblem(
                422, "invalid_request", "outcome: closing a task needs an outcome (what happened)"
            )
        return alerts.close_task(connection, task_id, principal.name, outcome.strip())
    return alerts.update_task(
        connection,
        task_id,
        principal.name,
        status=status,
        assignee=assignee,
        due_date=due_date,
        note=note,
    )


def create_task(
    connection: Any,
    principal: Principal,
    account_id: str,
    title: str,
    *,
    assignee: str | None = None,
    due_date: dt.date | None = None,
    steps: list[str] | None = None,
    note: str | None = None,
) -> alerts.Task:
    """Create a task by hand on an account the user may change (audited).

    A csm may create tasks on their own accounts, for themselves (the default assignee is
    the account's owner).
    """
    require_account(connection, principal, account_id)
    require_change(principal)
    if assignee is not None:
        require_reassign(principal, assignee)
    return alerts.create_task(
        connection,
        account_id,
        principal.name,
        title,
        assignee=assignee,
        due_date=due_date,
        steps=steps or [],
        note=note,
    )


def acknowledge_many(
    connection: Any, principal: Principal, alert_ids: list[str], note: str | None = None
) -> tuple[list[str], list[str]]:
    """Acknowledge several alerts; return (acknowledged, skipped because not open).

    Every alert is checked first, so one the user may not see refuses the whole batch.
    """
    found = [alert_for(connection, principal, alert_id) for alert_id in dict.fromkeys(alert_ids)]
    require_change(principal)
    done, skipped = [], []
    for alert in found:
        if alert.status != "open":
            skipped.append(alert.alert_id)
            continue
        alerts.acknowledge_alert(connection, alert.alert_id, principal.name, note or None)
        done.append(alert.alert_id)
    return done, skipped


@dataclass(frozen=True)
class InboxQuery:
    """The inbox's filters, as the page's form and the CSV export take them."""

    status: str | None = "active"
    owner: str | None = None
    severity: str | None = None
    rule: str | None = None
    account_id: str | None = None


def filter_alerts(connection: Any, principal: Principal, query: InboxQuery) -> list[alerts.Alert]:
    """Return every alert the user may see that matches the inbox's filters, newest first."""
    found = list_alerts_for(
        connection,
        principal,
        account_id=query.account_id,
        owner=query.owner,
        status=query.status,
        rule=query.rule,
        severity=query.severity,
        page=1,
        per_page=ALL,
    )
    return list(found.items)


@dataclass(frozen=True)
class Inbox:
    """One page of the inbox: account groups, how many alerts and accounts match, choices."""

    groups: list[AccountAlerts]
    alerts: int
    accounts: int
    page: int
    per_page: int
    rules: list[str]

    @property
    def pages(self) -> int:
        """Number of pages (of account groups)."""
        return page_count(self.accounts, self.per_page)


def inbox_page(
    connection: Any, principal: Principal, query: InboxQuery, page: int = 1, per_page: int = 50
) -> Inbox:
    """Return the inbox: the matching alerts grouped by account, a page of groups."""
    found = filter_alerts(connection, principal, query)
    groups = group_by_account(connection, found)
    rules = [
        str(r[0])
        for r in connection.execute("SELECT DISTINCT rule FROM alerts ORDER BY 1").fetchall()
    ]
    start = (page - 1) * per_page
    return Inbox(
        groups=groups[start : start + per_page],
        alerts=len(found),
        accounts=len(groups),
        page=page,
        per_page=per_page,
        rules=rules,
    )
