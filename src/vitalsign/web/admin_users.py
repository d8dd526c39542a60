"""The admin area in the browser (admins only): the /admin landing page, users and API tokens.

The pages are a shell over vitalsign.web.users (the same Python API the `vitalsign users`
commands use): every form checks the session's CSRF token, every change is audited there,
and an admin cannot disable or demote themselves. A generated password or a token's secret
is shown once, in the answer to the form that made it (never in a URL).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vitalsign.errors import VitalsignError
from vitalsign.web.access import HttpProblem, Principal
from vitalsign.web.auth import CurrentPrincipal, Database, check_form_csrf
from vitalsign.web.rendering import audit_detail, form_date, render
from vitalsign.web.tokens import SCOPES, create_token, list_tokens, revoke_token, token_expiry
from vitalsign.web.users import (
    ROLES,
    add_user,
    generate_password,
    list_users,
    set_disabled,
    set_owner,
    set_password,
    set_role,
    utc_now,
)

router = APIRouter(include_in_schema=False)

# The admin area's sections: (path, title, what it is for). Other modules add the pages.
SECTIONS = (
    (
        "/admin/users",
        "Users and roles",
        "Add people; change a role or book; disable; reset a password.",
    ),
    ("/admin/tokens", "API tokens", "Create with a scope and an expiry, see the last use, revoke."),
    (
        "/admin/sources",
        "Sources",
        "Freshness, syncs and quarantined rows of each source; sync now.",
    ),
    ("/admin/jobs", "Scheduled job", "The last runs with their outcome and duration; run now."),
    ("/admin/models", "Models", "The active model, proposed ones, check, backtest; activate one."),
)
DONE = {  # what a redirect after a change says (`?done=...&user=...`, `&token=...` for tokens)
    "role": "Role of {user} changed.",
    "owner": "Book of {user} changed.",
    "disable": "{user} is disabled: their sessions ended and their tokens are refused.",
    "enable": "{user} is enabled again.",
    "password": "Password of {user} changed; their sessions ended.",
    "add": "User {user} added.",
    "revoke": "Token {token} revoked.",
}
_SUBJECT_PARAM = {"revoke": "token"}  # the query parameter naming what changed (else `user`)
BOOK_FIELD = "the Book (owner) field"  # how a csm-without-a-book refusal names the form field
_SUBJECT = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")  # a user name (web.users) or a token id
DEFAULT_TOKEN_DAYS = 90
EXPIRING_DAYS = 14  # the landing page counts the active tokens expiring this soon
AUDIT_ROWS = 20


def require_admin(request: Request, principal: Principal) -> Principal:
    """Let only admins into the admin area (the error page still shows the navigation)."""
    request.state.principal = principal
    if principal.role != "admin":
        raise HttpProblem(403, "forbidden", "only an admin can use the admin area")
    return principal


def _admin_form(request: Request, principal: Principal, csrf_token: str) -> Principal:
    """Refuse a form from anyone but an admin, or without the session's CSRF token."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    return principal


def _done(path: str, what: str, subject: str) -> RedirectResponse:
    """Redirect after a change, naming the user (`user=`) or token (`token=`) it changed."""
    param = _SUBJECT_PARAM.get(what, "user")
    return RedirectResponse(f"{path}?{urlencode({'done': what, param: subject})}", status_code=303)


def _flashes(request: Request) -> list[str]:
    """The notice a redirect asked for, naming a user or token (never arbitrary text)."""
    what = request.query_params.get("done", "")
    param = _SUBJECT_PARAM.get(what, "user")
    subject = request.query_params.get(param, "")
    if what not in DONE or not _SUBJECT.match(subject):
        return []
    return [DONE[what].format(**{param: subject})]


def _private(response: Response) -> Response:
    """Keep an admin page (which may show a secret once) out of every cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/admin", name="admin_page", response_class=HTMLResponse)
def admin_page(request: Request, db: Database, principal: CurrentPrincipal) -> Response:
    """The admin area's landing page: a link to each section, and who may sign in."""
    require_admin(request, principal)
    now = utc_now()
    users = list_users(db)
    active = [t for t in list_tokens(db) if t.state(now) == "active"]
    soon = now + dt.timedelta(days=EXPIRING_DAYS)
    summary = {
        "users": len(users),
        "disabled": sum(u.disabled_at is not None for u in users),
        "admins": sum(u.role == "admin" and u.disabled_at is None for u in users),
        "tokens": len(active),
        "expiring": sum(t.expires_at is not None and t.expires_at <= soon for t in active),
    }
    return render(request, "admin.html", principal, nav="admin", sections=SECTIONS, summary=summary)


def known_owners(connection: Any) -> list[str]:
    """Return the owner names accounts have (the books a csm can be given), sorted."""
    exists = connection.execute(
        "SELECT 1 FROM duckdb_tables() WHERE table_name = 'accounts' AND schema_name = 'main'"
    ).fetchone()
    if not exists:
        return []
    rows = connection.execute(
        "SELECT DISTINCT owner FROM accounts WHERE owner IS NOT NULL AND owner <> '' ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def recent_changes(connection: Any, prefix: str = "user.") -> list[dict[str, Any]]:
    """Return the newest audit entries about users and tokens (who changed what, when)."""
    rows = connection.execute(
        "SELECT logged_at, actor, action, subject, detail FROM audit_log "
        "WHERE starts_with(action, ?) ORDER BY logged_at DESC LIMIT ?",
        [prefix, AUDIT_ROWS],
    ).fetchall()
    return [
        {
            "at": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": audit_detail(json.loads(detail)),
        }
        for at, actor, action, subject, detail in rows
    ]


def _users_page(
    request: Request,
    db: Any,
    principal: Principal,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """Render the users page (with an error, or a password shown once, when given)."""
    tokens = list_tokens(db)
    now = utc_now()
    active: dict[str, int] = {}
    for token in tokens:
        if token.state(now) == "active":
            active[token.user_name] = active.get(token.user_name, 0) + 1
    return _private(
        render(
            request,
            "admin_users.html",
            principal,
            status_code=status_code,
            nav="admin",
            users=list_users(db),
            roles=ROLES,
            owners=known_owners(db),
            active_tokens=active,
            changes=recent_changes(db),
            flashes=context.pop("flashes", _flashes(request)),
            **context,
        )
    )


@router.get("/admin/users", name="admin_users", response_class=HTMLResponse)
def admin_users(request: Request, db: Database, principal: CurrentPrincipal) -> Response:
    """Every web user: role, book, status, last sign-in; forms to change them."""
    require_admin(request, principal)
    return _users_page(request, db, principal)


@router.post("/admin/users", name="admin_user_add")
def admin_user_add(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    owner: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Add a user; with no password given, one is generated and shown once."""
    _admin_form(request, principal, csrf_token)
    given = password or generate_password()
    try:
        add_user(db, name.strip(), role, given, owner or None, principal.name, BOOK_FIELD)
    except VitalsignError as exc:
        return _users_page(request, db, principal, 400, error=str(exc), flashes=[])
    if password:
        return _done("/admin/users", "add", name.strip())
    return _users_page(
        request,
        db,
        principal,
        flashes=[f"User {name.strip()} added."],
        one_time=(name.strip(), given),
    )


@router.post("/admin/users/{name}/role", name="admin_user_role")
def admin_user_role(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    name: str,
    role: Annotated[str, Form()],
    owner: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Change a user's role (a csm keeps, or is given, a book); not your own admin role."""
    _admin_form(request, principal, csrf_token)
    try:
        set_role(db, name, role, owner or None, principal.name, BOOK_FIELD)
    except VitalsignError as exc:
        return _users_page(request, db, principal, 400, error=str(exc), flashes=[])
    return _done("/admin/users", "role", name)


@router.post("/admin/users/{name}/owner", name="admin_user_owner")
def admin_user_owner(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    name: str,
    owner: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Assign a user's book: the accounts.owner value whose accounts a csm sees."""
    _admin_form(request, principal, csrf_token)
    try:
        set_owner(db, name, owner or None, actor=principal.name)
    except VitalsignError as exc:
        return _users_page(request, db, principal, 400, error=str(exc), flashes=[])
    return _done("/admin/users", "owner", name)


@router.post("/admin/users/{name}/disable", name="admin_user_disable")
def admin_user_disable(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    name: str,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Disable a user at once (sessions end, tokens refused); not yourself."""
    _admin_form(request, principal, csrf_token)
    try:
        set_disabled(db, name, True, actor=principal.name)
    except VitalsignError as exc:
        return _users_page(request, db, principal, 400, error=str(exc), flashes=[])
    return _done("/admin/users", "disable", name)


@router.post("/admin/users/{name}/enable", name="admin_user_enable")
def admin_user_enable(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    name: str,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Enable a disabled user; their unrevoked tokens work again."""
    _admin_form(request, principal, csrf_token)
    try:
        set_disabled(db, name, False, actor=principal.name)
    except VitalsignError as exc:
        return _users_page(request, db, principal, 400, error=str(exc), flashes=[])
    return _done("/admin/users", "enable", name)


@router.post("/admin/users/{name}/password", name="admin_user_password")
def admin_user_password(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    name: str,
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Reset a password: the one the admin typed, or a generated one shown once."""
    _admin_form(request, principal, csrf_token)
    given = password or generate_password()
    try:
        set_password(db, name, given, actor=principal.name)
    except VitalsignError as exc:
        return _users_page(request, db, principal, 400, error=str(exc), flashes=[])
    if password:
        return _done("/admin/users", "password", name)
    return _users_page(
        request,
        db,
        principal,
        flashes=[f"Password of {name} reset; their sessions ended."],
        one_time=(name, given),
    )


def _tokens_page(
    request: Request, db: Any, principal: Principal, status_code: int = 200, **context: Any
) -> Response:
    """Render the tokens page (with an error, or a new secret shown once, when given)."""
    today = utc_now().date()
    users = list_users(db)
    return _private(
        render(
            request,
            "admin_tokens.html",
            principal,
            status_code=status_code,
            nav="admin",
            tokens=list_tokens(db),
            users=[u for u in users if u.disabled_at is None],
            disabled={u.name for u in users if u.disabled_at is not None},
            scopes=SCOPES,
            now=utc_now(),
            default_expiry=today + dt.timedelta(days=DEFAULT_TOKEN_DAYS),
            changes=recent_changes(db, "user.token") + recent_changes(db, "user.revoke_token"),
            flashes=context.pop("flashes", _flashes(request)),
            **context,
        )
    )


@router.get("/admin/tokens", name="admin_tokens", response_class=HTMLResponse)
def admin_tokens(request: Request, db: Database, principal: CurrentPrincipal) -> Response:
    """Every API token (never its secret): user, scope, expiry, last use, state."""
    require_admin(request, principal)
    return _tokens_page(request, db, principal)


@router.post("/admin/tokens", name="admin_token_create")
def admin_token_create(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    user: Annotated[str, Form()],
    scope: Annotated[str, Form()],
    label: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Create a token for a user with a scope and an expiry; its secret is shown once."""
    _admin_form(request, principal, csrf_token)
    try:
        expires = token_expiry(form_date(expires_on, "expiry"))
        token_id, secret = create_token(
            db, user, label.strip(), principal.name, scope=scope, expires_at=expires
        )
    except VitalsignError as exc:
        return _tokens_page(request, db, principal, 400, error=str(exc), flashes=[])
    return _tokens_page(
        request,
        db,
        principal,
        flashes=[f"Token {token_id} created for {user}."],
        secret=(token_id, secret),
    )


@router.post("/admin/tokens/{token_id}/revoke", name="admin_token_revoke")
def admin_token_revoke(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    token_id: str,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Revoke a token from the next request on."""
    _admin_form(request, principal, csrf_token)
    try:
        revoke_token(db, token_id, principal.name)
    except VitalsignError as exc:
        return _tokens_page(request, db, principal, 400, error=str(exc), flashes=[])
    return _done("/admin/tokens", "revoke", token_id)
