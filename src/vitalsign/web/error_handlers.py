"""One place where errors become responses: JSON bodies under /api, error pages elsewhere.

Every API error has the body {"error": {"code": "...", "message": "..."}} (validation errors
add "details"). A VitalsignError is the user's mistake: 404 when a snapshot, account, alert
or task is unknown, 409 for a write conflict, 400 otherwise. DuckDB aborting a write that
changed a row another transaction changed (the daily job in `vitalsign serve`, another
user) is a 409 too, with nothing saved. Anything else is a bug: 500, logged with its
traceback.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import duckdb
from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from vitalsign.errors import (
    AlertError,
    SnapshotError,
    UserError,
    VitalsignError,
    WriteConflictError,
)
from vitalsign.store.conflicts import is_write_conflict
from vitalsign.web.access import HttpProblem, LoginRequired, Principal

log = logging.getLogger("vitalsign.web")
API_PREFIX = "/api/"
EVENT_API_PREFIX = "/v1/"  # the event API (vitalsign.ingest.http_api) keeps FastAPI's bodies
TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Changed meanwhile",
    413: "Too large",
    429: "Too many attempts",
    422: "That did not work",
    500: "Something broke",
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """Return the API's error body."""
    return {"error": {"code": code, "message": message, **extra}}


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API."""
    return request.url.path.startswith(API_PREFIX)


async def _respond(
    request: Request, status: int, code: str, message: str, **extra: Any
) -> Response:
    if is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)
    from vitalsign.web.pages import render_error

    if getattr(request.state, "principal", None) is None:  # e.g. no route: nobody asked yet
        request.state.principal = await _signed_in(request)
    return render_error(request, status, TITLES.get(status, "Error"), code, message)


async def _signed_in(request: Request) -> Principal | None:
    """Return the user of the request's session or token, if any (the page shows the nav)."""
    from vitalsign.web.auth import find_principal
    from vitalsign.web.state import web_state

    cursor = web_state(request).cursor()
    try:
        return await find_principal(request, cursor)
    except (HttpProblem, duckdb.Error):  # an unknown token or a closing database: no nav
        return None
    finally:
        cursor.close()


def vitalsign_status(exc: VitalsignError) -> tuple[int, str]:
    """Map a user's mistake to an HTTP status and error code."""
    if isinstance(exc, WriteConflictError):
        return 409, "conflict"
    if isinstance(exc, SnapshotError) or (
        isinstance(exc, AlertError | UserError) and str(exc).startswith("no ")
    ):
        return 404, "not_found"
    return 400, "invalid"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpProblem)
        return await _respond(request, exc.status, exc.code, exc.message)

    async def login_required(request: Request, exc: Exception) -> Response:
        if is_api(request):
            return await _respond(
                request, 401, "unauthenticated", "sign in: send Authorization: Bearer TOKEN"
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from vitalsign.web.rendering import page_url

        login = page_url(request, "login_page")
        return RedirectResponse(f"{login}?next={quote(target, safe='')}", status_code=303)

    async def user_mistake(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VitalsignError)
        status, code = vitalsign_status(exc)
        return await _respond(request, status, code, str(exc))

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith(EVENT_API_PREFIX):
            return await request_validation_exception_handler(request, exc)
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "message": "invalid request"}
        message = f"{'.'.join(first['loc'][1:]) or 'request'}: {first['message']}"
        return await _respond(request, 422, "invalid_request", message, details=details)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(EVENT_API_PREFIX):
            return await http_exception_handler(request, exc)
        code = HTTP_CODES.get(exc.status_code, "error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found" and not is_api(request):
            message = f"there is no page at {request.url.path}"
        return await _respond(request, exc.status_code, code, message)

    async def bug(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return await _respond(request, 500, "internal", "an unexpected error happened; see the log")

    async def write_conflict(request: Request, exc: Exception) -> Response:
        if not is_write_conflict(exc):
            return await bug(request, exc)
        log.warning("write conflict on %s %s: %s", request.method, request.url.path, exc)
        message = (
            "someone else (or the scheduled daily job) changed the same record at this "
            "moment; nothing was saved: reload and try again"
        )
        if request.url.path.startswith(EVENT_API_PREFIX):  # FastAPI's body, as http_error
            return JSONResponse({"detail": message}, status_code=409)
        return await _respond(request, 409, "conflict", message)

    app.add_exception_handler(HttpProblem, problem)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(VitalsignError, user_mistake)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(duckdb.TransactionException, write_conflict)
    app.add_exception_handler(Exception, bug)
