"""The REST API's alert and task routes: list, read, acknowledge, rate and change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from vitalsign.web import inbox
from vitalsign.web.api_params import (
    AccountAlias,
    AcknowledgeIn,
    FeedbackIn,
    PageNumber,
    PerPage,
    TaskChange,
    one_account,
    page_body,
)
from vitalsign.web.auth import CurrentPrincipal, Database, check_api_csrf
from vitalsign.web.inbox_schemas import AlertOut, AlertPage, TaskOut, TaskPage


def alerts_route(
    db: Database,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    account: AccountAlias = None,
    owner: str | None = None,
    status: Annotated[
        str, Query(description="active (default), open, acknowledged, resolved or all.")
    ] = "active",
    rule: str | None = None,
    severity: str | None = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """Alerts, newest first; a csm gets those of their own accounts."""
    listing = inbox.list_alerts_for(
        db,
        principal,
        account_id=one_account(account_id, account),
        owner=owner,
        status=None if status == "all" else status,
        rule=rule,
        severity=severity,
        page=page,
        per_page=per_page,
    )
    items = [a.to_dict() for a in listing.items]
    return page_body(items, listing.total, page, per_page)


def alert(db: Database, principal: CurrentPrincipal, alert_id: str) -> dict[str, Any]:
    """One alert with the values that fired it."""
    found: dict[str, Any] = inbox.alert_for(db, principal, alert_id).to_dict()
    return found


def alert_acknowledge(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    alert_id: str,
    body: AcknowledgeIn | None = None,
) -> dict[str, Any]:
    """Acknowledge an open alert; audited."""
    inbox.alert_for(db, principal, alert_id)
    check_api_csrf(request, principal)
    done: dict[str, Any] = inbox.acknowledge(
        db, principal, alert_id, body.note if body else None
    ).to_dict()
    return done


def alert_feedback(
    request: Request, db: Database, principal: CurrentPrincipal, alert_id: str, body: FeedbackIn
) -> dict[str, Any]:
    """Record whether the alert was useful; audited."""
    inbox.alert_for(db, principal, alert_id)
    check_api_csrf(request, principal)
    done: dict[str, Any] = inbox.rate(db, principal, alert_id, body.useful, body.note).to_dict()
    return done


def tasks_route(
    db: Database,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    account: AccountAlias = None,
    assignee: str | None = None,
    status: Annotated[
        str, Query(description="active (default), open, in_progress, closed or all.")
    ] = "active",
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """Tasks, soonest due first; a csm gets those of their own accounts."""
    listing = inbox.list_tasks_for(
        db,
        principal,
        account_id=one_account(account_id, account),
        assignee=assignee,
        status=None if status == "all" else status,
        page=page,
        per_page=per_page,
    )
    return page_body([t.to_dict() for t in listing.items], listing.total, page, per_page)


def task(db: Database, principal: CurrentPrincipal, task_id: str) -> dict[str, Any]:
    """One task."""
    found: dict[str, Any] = inbox.task_for(db, principal, task_id).to_dict()
    return found


def task_change(
    request: Request, db: Database, principal: CurrentPrincipal, task_id: str, body: TaskChange
) -> dict[str, Any]:
    """Change a task's status, assignee, due date or note, or close it with an outcome."""
    inbox.task_for(db, principal, task_id)
    check_api_csrf(request, principal)
    if body.status == "closed" and not (body.outcome or "").strip():
        raise RequestValidationError(  # as `vitalsign tasks close` requires --outcome
            [
                {
                    "type": "missing",
                    "loc": ("body", "outcome"),
                    "msg": "closing a task needs an outcome: say what happened, e.g. "
                    '{"status": "closed", "outcome": "renewed for two years"}',
                    "input": body.outcome,
                }
            ]
        )
    done: dict[str, Any] = inbox.change_task(
        db,
        principal,
        task_id,
        status=body.status,
        assignee=body.assignee,
        due_date=body.due_date,
        note=body.note,
        outcome=body.outcome,
    ).to_dict()
    return done


ROUTES: tuple[tuple[str, str, Any, type[BaseModel]], ...] = (
    ("GET", "/alerts", alerts_route, AlertPage),
    ("GET", "/alerts/{alert_id}", alert, AlertOut),
    ("POST", "/alerts/{alert_id}/acknowledge", alert_acknowledge, AlertOut),
    ("POST", "/alerts/{alert_id}/feedback", alert_feedback, AlertOut),
    ("GET", "/tasks", tasks_route, TaskPage),
    ("GET", "/tasks/{task_id}", task, TaskOut),
    ("PATCH", "/tasks/{task_id}", task_change, TaskOut),
)


def add_routes(router: APIRouter, responses: dict[int | str, dict[str, Any]]) -> None:
    """Add the alert and task routes to the REST API's router (in this order)."""
    for method, path, endpoint, model in ROUTES:
        router.add_api_route(
            path, endpoint, methods=[method], responses=responses, response_model=model
        )
