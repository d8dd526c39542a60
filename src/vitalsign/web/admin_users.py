"""The admin area in the browser (admins only): the /admin landing page, users and API tokens.

The pages are a shell over vitalsign.web.users (the same Python API the `vitalsign users`
commands use); every form checks the session's CSRF token and every change is audited.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vitalsign.web.access import HttpProblem, Principal
from vitalsign.web.auth import CurrentPrincipal
from vitalsign.web.rendering import render

router = APIRouter(include_in_schema=False)

# The admin area's sections: (path, title, what it is for). Other modules add the pages.
SECTIONS = (
    (
        "/admin/users",
        "Users and roles",
        "Add people, change their role or book, disable them, reset a password.",
    ),
    (
        "/admin/tokens",
        "API tokens",
        "Create a token with a scope and an expiry, see when it was last used, revoke it.",
    ),
    (
        "/admin/sources",
        "Sources",
        "Freshness, syncs and quarantined rows of each source; sync now.",
    ),
    ("/admin/jobs", "Scheduled job", "The last runs with their outcome and duration; run now."),
    (
        "/admin/models",
        "Models",
        "The active model, proposed ones, their check and backtest; activate one.",
    ),
)


def require_admin(request: Request, principal: Principal) -> Principal:
    """Let only admins into the admin area (the error page still shows the navigation)."""
    request.state.principal = principal
    if principal.role != "admin":
        raise HttpProblem(403, "forbidden", "only an admin can use the admin area")
    return principal


@router.get("/admin", name="admin_page", response_class=HTMLResponse)
def admin_page(request: Request, principal: CurrentPrincipal) -> Response:
    """The admin area's landing page: a link to each section."""
    require_admin(request, principal)
    return render(request, "admin.html", principal, nav="admin", sections=SECTIONS)
