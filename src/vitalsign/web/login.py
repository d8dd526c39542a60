"""Signing in and out, and the plotly.js bundle the pages load."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vitalsign.store.overrides import audit
from vitalsign.web.auth import (
    CurrentPrincipal,
    Database,
    OptionalPrincipal,
    State,
    check_form_csrf,
    check_login_csrf,
)
from vitalsign.web.rendering import local_path, page_url, render
from vitalsign.web.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, create_session, end_session
from vitalsign.web.sso import SSO_COOKIE, login_options, passwords_refused
from vitalsign.web.throttle import wait_text
from vitalsign.web.users import check_password

router = APIRouter(include_in_schema=False)
YEAR = 365 * 24 * 3600


def _login_form(
    request: Request,
    state: State,
    next_url: str,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        next=next_url,
        error=error,
        username=username,
        **login_options(request),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )
    return response


def _refused(
    request: Request, state: State, next_url: str, username: str, error: str, status: int
) -> HTMLResponse:
    return _login_form(
        request, state, local_path(next_url), error=error, username=username, status_code=status
    )


def _lockout(state: State, what: str, address: str) -> dict[str, object]:
    settings = state.settings
    limit = settings.login_attempts if what == "user" else settings.login_attempts_per_address
    return {
        "locked": what,
        "address": address,
        "attempts": limit,
        "seconds": settings.lockout_seconds,
    }


@router.get("/login", name="login_page")
def login_page(
    request: Request, state: State, principal: OptionalPrincipal, next: str = "/"
) -> Response:
    """Show the sign-in form (or go on when already signed in)."""
    if principal is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return _login_form(request, state, local_path(next))


@router.post("/login", name="login")
def login(
    request: Request,
    state: State,
    db: Database,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (argon2), start a session and set its cookie."""
    check_login_csrf(request, csrf_token)
    refused = passwords_refused(request)  # web.sso.local_passwords: false
    if refused is not None:
        return _refused(request, state, next, username, refused, 403)
    name = username.strip()
    address = request.client.host if request.client else "unknown"
    wait = state.logins.locked_for(name, address)
    if wait > 0:  # the right password too: a lockout must not tell whether a guess was right
        error = (
            f"Too many wrong passwords: signing in is locked for {wait_text(wait)}. "
            "Try again then; an admin who is sure it is you can restart the server to lift it."
        )
        return _refused(request, state, next, username, error, 429)
    user = check_password(db, name, password)
    if user is None:
        locked = state.logins.failed(name, address)
        audit(db, f"address:{address}", "login.failed", name, {"address": address})
        for what in locked:
            audit(db, f"address:{address}", "login.locked", name, _lockout(state, what, address))
        return _refused(request, state, next, username, "Wrong user name or password.", 401)
    state.logins.succeeded(name)
    if user.disabled_at is not None:
        error = "This user is disabled; ask an admin to enable it."
        return _refused(request, state, next, username, error, 403)
    secret, _ = create_session(db, user, state.settings.session_hours)
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(state.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", name="logout")
def logout(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """End the session and forget its cookie."""
    check_form_csrf(principal, csrf_token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_session(db, cookie)
    signed_in_with_sso = request.cookies.get(SSO_COOKIE) and login_options(request)["sso_provider"]
    after = "sso_logout" if signed_in_with_sso else "login_page"  # the provider's session too
    response = RedirectResponse(page_url(request, after), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/assets/plotly-{version}.min.js", name="plotly_js")
def plotly_js(request: Request, version: str) -> Response:
    """Serve plotly.js from the installed package, gzipped when accepted, cached for a year."""
    bundle = request.app.state.plotly
    headers = {
        "Cache-Control": f"public, max-age={YEAR}, immutable",
        "ETag": bundle.etag,
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == bundle.etag:
        return Response(status_code=304, headers=headers)
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(bundle.content(gzipped), media_type="application/javascript", headers=headers)
