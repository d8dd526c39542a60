"""Request authentication: bearer tokens and session cookies, CSRF checks, per-request cursors."""

from __future__ import annotations

import datetime as dt
import hmac
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from vitalsign.web.access import HttpProblem, LoginRequired, Principal
from vitalsign.web.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, find_session
from vitalsign.web.state import WebState, web_state
from vitalsign.web.tokens import find_token, touch_token
from vitalsign.web.users import credentials_generation, utc_now

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
READ_METHODS = ("GET", "HEAD", "OPTIONS")
TOUCH_EVERY = 60.0  # seconds: a token's "last used" is written at most this often


async def database(request: Request) -> AsyncIterator[Any]:
    """Give the request its own DuckDB cursor (never shared between threads), then close it."""
    cursor = web_state(request).cursor()
    try:
        yield cursor
    finally:
        cursor.close()


Database = Annotated[Any, Depends(database)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class SignInCache:
    """Recently seen tokens and sessions, dropped whenever any credential changes.

    Every change to users, tokens and sessions goes through vitalsign.web.users and
    .sessions in this process (DuckDB lets one process write the file), and bumps the
    credentials generation, so a cached sign-in never outlives a revocation. Unknown
    secrets are never cached.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: dict[str, tuple[int, Principal, dt.datetime | None]] = {}

    def get(self, key: str) -> Principal | None:
        """Return the cached principal of `key` if still valid."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != credentials_generation():
            return None
        if entry[2] is not None and entry[2] <= utc_now():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal, expires_at: dt.datetime | None) -> None:
        """Remember a principal until credentials change (or the session expires)."""
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (credentials_generation(), principal, expires_at)


_cache = SignInCache()
_touched: dict[str, float] = {}  # token id -> time.monotonic() its last use was written


def _touch_due(token_id: str) -> bool:
    """Whether a token's last use should be written now (at most every TOUCH_EVERY seconds)."""
    now = time.monotonic()
    if now - _touched.get(token_id, -TOUCH_EVERY) < TOUCH_EVERY:
        return False
    _touched[token_id] = now
    return True


def _sign_in(db: Any, token: str | None, cookie: str | None) -> Principal | None:
    """Look a token or session up in the database (a cache miss) and cache the principal."""
    if token is not None:
        found = find_token(db, token)
        if found is None:
            raise HttpProblem(401, "invalid_token", "the API token is unknown, revoked or expired")
        user, info = found
        principal = Principal(user=user, via="token", scope=info.scope, token_id=info.token_id)
        _cache.put("t:" + token, principal, info.expires_at)
        if _touch_due(info.token_id):
            touch_token(db, info.token_id, utc_now())
        return principal
    assert cookie is not None
    session: Session | None = find_session(db, cookie)
    if session is None:
        return None
    principal = Principal(user=session.user, via="session", csrf_token=session.csrf_token)
    _cache.put("s:" + cookie, principal, session.expires_at)
    return principal


async def find_principal(request: Request, db: Database) -> Principal | None:
    """Return who is calling (a bearer token wins over a session cookie), or None.

    A cached sign-in is answered on the event loop; only a miss reads DuckDB (in a thread).
    """
    token = _bearer(request)
    cookie = None if token is not None else request.cookies.get(SESSION_COOKIE)
    if token is None and not cookie:
        return None
    principal = _cache.get("t:" + token if token is not None else "s:" + str(cookie))
    if principal is None:
        principal = await run_in_threadpool(_sign_in, db, token, cookie)
    elif principal.token_id is not None and _touch_due(principal.token_id):
        await run_in_threadpool(touch_token, db, principal.token_id, utc_now())
    if principal is not None and principal.scope != "write" and request.method not in READ_METHODS:
        raise HttpProblem(
            403, "read_only_token", "this API token may only read; ask an admin for a write token"
        )
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(find_principal)]


async def require_principal(principal: OptionalPrincipal) -> Principal:
    """Return the signed-in user or raise LoginRequired."""
    if principal is None:
        raise LoginRequired()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def same_token(expected: str | None, given: str | None) -> bool:
    """Compare two CSRF tokens in constant time; a missing one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def check_form_csrf(principal: Principal, given: str | None) -> None:
    """Refuse a form POST whose CSRF token is not the session's."""
    if principal.via == "session" and not same_token(principal.csrf_token, given):
        raise HttpProblem(
            403, "csrf", "the form has expired or did not come from this site; reload and retry"
        )


def check_api_csrf(request: Request, principal: Principal) -> None:
    """Refuse an API change made with a session cookie but without the X-CSRF-Token header."""
    if principal.via == "session" and not same_token(
        principal.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise HttpProblem(
            403, "csrf", "changes through a browser session need the X-CSRF-Token header"
        )


def check_login_csrf(request: Request, given: str | None) -> None:
    """Refuse a login POST without the double-submit token set by the login form."""
    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE), given):
        raise HttpProblem(403, "csrf", "the login form has expired; reload the page and retry")


async def state(request: Request) -> WebState:
    """Return the app's shared state (workspace, settings, caches)."""
    return web_state(request)


State = Annotated[WebState, Depends(state)]
