"""Tasks by hand and acknowledging in bulk: the account page's task form, the inbox's bulk
acknowledge, and the same two as API routes (docs/web.md, docs/api.md).

Access as everywhere: a viewer may not change anything, a csm only their own accounts
(web/inbox.py checks each alert and task before changing it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from vitalsign.web import inbox
from vitalsign.web.auth import CurrentPrincipal, Database, check_api_csrf, check_form_csrf
from vitalsign.web.inbox_schemas import TaskOut
from vitalsign.web.rendering import form_date, local_path, page_url, with_notice

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["api"])


class TaskIn(BaseModel):
    """A task created by hand on an account."""

    title: str = Field(min_length=1, description="What to do.")
    assignee: str | None = Field(default=None, description="Who does it (default: the owner).")
    due_date: dt.date | None = Field(default=None, description="When it is due.")
    steps: list[str] = Field(default_factory=list, description="Steps, for people.")
    note: str | None = None


class BulkAcknowledgeIn(BaseModel):
    """Alerts to acknowledge at once."""

    alert_ids: list[str] = Field(min_length=1, max_length=500)
    note: str | None = None


class BulkAcknowledgeOut(BaseModel):
    """Which alerts were acknowledged and which were not open any more."""

    acknowledged: list[str]
    skipped: list[str] = Field(description="Alerts that were not open (already acknowledged).")


@pages.post("/accounts/{account_id}/tasks", name="task_create")
def task_create_form(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    title: Annotated[str, Form()],
    assignee: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Create a task on the account from the account page's form (audited)."""
    request.state.principal = principal
    check_form_csrf(principal, csrf_token)
    inbox.create_task(
        db,
        principal,
        account_id,
        title,
        assignee=assignee.strip() or None,
        due_date=form_date(due_date.strip(), "due date"),
    )
    url = page_url(request, "account_page", account_id=account_id)
    return RedirectResponse(f"{url}?notice=task#tasks", status_code=303)


@pages.post("/alerts/acknowledge", name="alerts_acknowledge_bulk")
def alerts_acknowledge_form(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    alert_ids: Annotated[list[str], Form()],
    next: Annotated[str, Form()] = "/alerts",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Acknowledge the ticked alerts of the inbox (audited, one entry per alert)."""
    request.state.principal = principal
    check_form_csrf(principal, csrf_token)
    done, _ = inbox.acknowledge_many(db, principal, alert_ids)
    return RedirectResponse(
        with_notice(local_path(next, "/alerts"), "acknowledged", len(done)), status_code=303
    )


@api.post("/accounts/{account_id}/tasks", response_model=TaskOut, status_code=201)
def task_create(
    request: Request, db: Database, principal: CurrentPrincipal, account_id: str, body: TaskIn
) -> dict[str, object]:
    """Create a task by hand on an account; audited."""
    check_api_csrf(request, principal)
    task = inbox.create_task(
        db,
        principal,
        account_id,
        body.title,
        assignee=body.assignee,
        due_date=body.due_date,
        steps=body.steps,
        note=body.note,
    )
    return task.to_dict()


@api.post("/alerts/acknowledge", response_model=BulkAcknowledgeOut)
def alerts_acknowledge(
    request: Request, db: Database, principal: CurrentPrincipal, body: BulkAcknowledgeIn
) -> BulkAcknowledgeOut:
    """Acknowledge several alerts at once; those not open are listed as skipped."""
    check_api_csrf(request, principal)
    done, skipped = inbox.acknowledge_many(db, principal, body.alert_ids, body.note)
    return BulkAcknowledgeOut(acknowledged=done, skipped=skipped)


@pages.post("/tasks/{task_id}/plan", name="task_plan")
def task_plan_form(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    task_id: str,
    assignee: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/alerts",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Re-assign or re-date a task from the account page (audited)."""
    request.state.principal = principal
    check_form_csrf(principal, csrf_token)
    inbox.change_task(
        db,
        principal,
        task_id,
        assignee=assignee.strip() or None,
        due_date=form_date(due_date.strip(), "due date"),
    )
    return RedirectResponse(with_notice(local_path(next, "/alerts"), "task"), status_code=303)
