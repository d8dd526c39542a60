"""Single sign-on routes: /sso/login to the provider, /sso/callback back, /sso/logout at its end.

They answer 404 when vitalsign.yml has no `web.sso`. A refused sign-in (a domain not allowed,
a disabled user, the provider's own refusal) is a page saying why and what to do, with a
link back to the sign-in page; nothing is signed in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vitalsign.errors import UserError
from vitalsign.web.access import HttpProblem
from vitalsign.web.auth import Database, OptionalPrincipal, State
from vitalsign.web.rendering import local_path, page_url, render
from vitalsign.web.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, create_session
from vitalsign.web.sso import (
    SSO_COOKIE,
    SingleSignOn,
    SsoRefused,
    identity_from_claims,
    provision_user,
)

router = APIRouter(include_in_schema=False)
NEXT_KEY = "vitalsign_next"  # where to go after signing in, kept with Authlib's state


def _sso(request: Request) -> SingleSignOn:
    sso: SingleSignOn | None = getattr(request.app.state, "sso", None)
    if sso is None:
        raise HttpProblem(
            404,
            "not_found",
            "single sign-on is not configured: add web.sso to vitalsign.yml (docs/web.md)",
        )
    return sso


def _callback_url(request: Request) -> str:
    """The callback's absolute URL: under web.base_url when set (register it at the provider)."""
    path = str(request.app.url_path_for("sso_callback"))
    base = request.app.state.web.settings.base_url
    if base:
        return str(base).rstrip("/") + path
    return str(request.url_for("sso_callback"))


def _refused_page(request: Request, refusal: SsoRefused, provider: str) -> HTMLResponse:
    return render(
        request,
        "sso_refused.html",
        None,
        status_code=refusal.status,
        status=refusal.status,
        code=refusal.code,
        message=refusal.message,
        provider=provider,
    )


@router.get("/sso/login", name="sso_login")
async def sso_login(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    """Send the browser to the provider's sign-in page (or on, when already signed in)."""
    sso = _sso(request)
    next_url = local_path(request.query_params.get("next"))
    if principal is not None:
        return RedirectResponse(next_url, status_code=303)
    sso.load_state(request)
    request.session[NEXT_KEY] = next_url
    try:
        response = await sso.authorize_redirect(request, _callback_url(request))
    except SsoRefused as refusal:
        return _refused_page(request, refusal, sso.config.provider)
    sso.save_state(request, response, state.settings.secure_cookies)
    return response


@router.get("/sso/callback", name="sso_callback")
async def sso_callback(request: Request, state: State, db: Database) -> Response:
    """Verify the provider's answer, find or create the user, and start their session."""
    sso = _sso(request)
    sso.load_state(request)
    next_url = local_path(request.session.get(NEXT_KEY))
    try:
        claims = await sso.claims(request)
        identity = identity_from_claims(sso.config, claims)
        user = await run_in_threadpool(provision_user, db, sso.config, identity)
    except SsoRefused as refusal:
        response = _refused_page(request, refusal, sso.config.provider)
        sso.save_state(request, response, state.settings.secure_cookies)
        return response
    except UserError as exc:  # e.g. an e-mail too long for a user name
        return _refused_page(request, SsoRefused(403, "sso_user", str(exc)), sso.config.provider)
    secret, _ = await run_in_threadpool(create_session, db, user, state.settings.session_hours)
    signed_in = RedirectResponse(next_url, status_code=303)
    secure = state.settings.secure_cookies
    max_age = int(state.settings.session_hours * 3600)
    for name, value in ((SESSION_COOKIE, secret), (SSO_COOKIE, "1")):
        signed_in.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
        )
    signed_in.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    request.session.pop(NEXT_KEY, None)
    sso.save_state(request, signed_in, secure)
    return signed_in


@router.get("/sso/logout", name="sso_logout")
async def sso_logout(request: Request) -> Response:
    """After vitalsign's own sign-out: end the provider's session too, then back to sign-in.

    POST /logout has already ended the vitalsign session; this only sends the browser to the
    provider's end_session_endpoint (which asks the person to confirm), when it has one.
    """
    sso = _sso(request)
    back = page_url(request, "login_page")
    if not back.startswith("http"):
        back = str(request.url_for("login_page"))
    try:
        target = await sso.logout_url(back)
    except SsoRefused:
        target = None  # the provider is unreachable: vitalsign's session is over all the same
    response = RedirectResponse(target or back, status_code=303)
    response.delete_cookie(SSO_COOKIE, path="/")
    return response
