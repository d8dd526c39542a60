"""The /status page: how current the data is, per table and per source (admins)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vitalsign.engine.status import workspace_status
from vitalsign.web.access import HttpProblem, Principal
from vitalsign.web.auth import CurrentPrincipal, Database, State
from vitalsign.web.rendering import render

router = APIRouter(include_in_schema=False)


def require_admin(principal: Principal) -> None:
    """Let only admins see the sources and their syncs."""
    if principal.role != "admin":
        raise HttpProblem(403, "forbidden", "only an admin can see the data's status")


@router.get("/status", name="status_page", response_class=HTMLResponse)
def status_page(
    request: Request, state: State, db: Database, principal: CurrentPrincipal
) -> Response:
    """Each table's newest row, allowance and state under the model; each source's syncs."""
    request.state.principal = principal  # lets the error page show the navigation
    require_admin(principal)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    found = workspace_status(db, state.model().spec, now)
    return render(request, "status.html", principal, nav="status", status=found)
