"""The FastAPI application: pages, the REST API, the event API, static files and plotly.js.

>>> from vitalsign.web import create_app  # doctest: +SKIP
>>> app = create_app(vs.open_workspace("acme"))  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import duckdb
import plotly
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitalsign import __version__
from vitalsign.errors import VitalsignError
from vitalsign.store.workspace import Workspace
from vitalsign.web.api_docs import install_api_docs
from vitalsign.web.error_handlers import install_error_handlers
from vitalsign.web.state import WebSettings, WebState
from vitalsign.web.tables import ensure_web_tables

log = logging.getLogger("vitalsign.web")

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # plotly.js sets inline styles; scripts come only from this origin (no inline scripts).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


class ResponseHeaders:
    """ASGI middleware adding SECURITY_HEADERS, and Server-Timing (the app's own time).

    A route that sets `request.state.data_source` ("memory" or "duckdb") has it added to
    Server-Timing as `data;desc=...` (the benchmark and the tests read it).
    """

    def __init__(self, app: ASGIApp, form_targets: str = "") -> None:
        self.app = app
        headers = dict(SECURITY_HEADERS)
        if form_targets:  # single sign-on: sign-in and sign-out forms lead on to the provider
            csp = headers["Content-Security-Policy"]
            headers["Content-Security-Policy"] = csp.replace(
                "form-action 'self'", f"form-action 'self' {form_targets}"
            )
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        state = scope.setdefault("state", {})  # the dict behind request.state

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                if "data_source" in state:
                    took += f', data;desc="{state["data_source"]}"'
                extra.append((b"server-timing", took.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class PlotlyBundle:
    """plotly.js from the installed plotly package, compressed once, cached by browsers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plain: bytes | None = None
        self._gzipped: bytes | None = None

    def content(self, gzipped: bool) -> bytes:
        """Return the script, gzip-compressed or not."""
        with self._lock:
            if self._plain is None:
                self._plain = plotly.offline.get_plotlyjs().encode()
                self._gzipped = gzip.compress(self._plain, compresslevel=6)
            body = self._gzipped if gzipped else self._plain
            assert body is not None
            return body

    @property
    def etag(self) -> str:
        """A validator that changes with the plotly version."""
        return '"' + hashlib.sha256(plotly.__version__.encode()).hexdigest()[:16] + '"'


def create_app(workspace: Workspace, settings: WebSettings | None = None) -> FastAPI:
    """Return the web app serving `workspace` (pages, /api/v1, the event API under /v1)."""
    from vitalsign.alerts import ensure_alert_tables
    from vitalsign.ingest.http_api import BodyLimit
    from vitalsign.ingest.http_api import router as event_router
    from vitalsign.ingest.runs import ensure_ingest_tables
    from vitalsign.web import (
        admin_users,
        api,
        exports,
        pages,
        renewals,
        sso_routes,
        status_page,
        task_routes,
        timeline,
    )
    from vitalsign.web.sso import SingleSignOn

    settings = settings or WebSettings.from_config(workspace.config.web)
    sso = SingleSignOn(settings.sso) if settings.sso else None  # its secret's check: before work
    ensure_web_tables(workspace.duckdb)
    ensure_ingest_tables(workspace.duckdb)
    ensure_alert_tables(workspace.duckdb)
    app = FastAPI(
        title="vitalsign",
        version=__version__,
        description="Customer-health scores, explanations, overrides, alerts and tasks.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: web/api_docs.py serves it offline
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
        lifespan=_lifespan,
    )
    app.state.workspace = workspace  # read by the event API's router
    app.state.web = WebState(workspace=workspace, settings=settings)
    if settings.serving_cache:  # build the in-memory history while the server starts
        _start_serving_cache(app.state.web)
    app.state.plotly = PlotlyBundle()
    app.state.sso = sso  # web/sso.py
    install_error_handlers(app)

    app.add_middleware(BodyLimit)
    app.add_middleware(ResponseHeaders, form_targets=settings.sso.origin if settings.sso else "")
    app.include_router(pages.router)
    app.include_router(sso_routes.router)
    app.include_router(status_page.router)
    app.include_router(admin_users.router)
    from vitalsign.web import admin_jobs, admin_sources  # /admin/sources, /admin/jobs, API
    from vitalsign.web.jobs import JobRunner  # run now, sync now: one background job at a time

    app.state.jobs = JobRunner(workspace.root, app.state.web.cursor)
    for admin_router in (admin_sources.pages, admin_sources.api, admin_jobs.pages, admin_jobs.api):
        app.include_router(admin_router)
    from vitalsign.web import admin_models, admin_models_api  # /admin/models, its API

    app.include_router(admin_models.router)
    app.include_router(admin_models_api.router)
    app.include_router(timeline.router)
    app.include_router(renewals.router)
    from vitalsign.web import review_page  # /review, /api/v1/review: the quarterly review

    app.include_router(review_page.pages)
    app.include_router(review_page.api)
    app.include_router(exports.router)
    app.include_router(task_routes.pages)
    app.include_router(task_routes.api)
    app.include_router(api.router)
    app.include_router(event_router)
    install_api_docs(app)  # /api/docs: Swagger UI from the installed package
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Relay CLI commands to this process while serving; on shutdown, checkpoint the database.

    The relay (web/relay_server.py) lets `vitalsign report`, `users add`, `ingest`... run on
    the workspace this server holds; the checkpoint leaves no write-ahead log behind.
    """
    from vitalsign.web.relay_server import CommandRelay

    relay = CommandRelay(app.state.workspace.root, app.state.jobs)  # run, sync: as jobs
    relay.start()
    try:
        yield
    finally:
        relay.stop()
    checkpoint(app.state.workspace)


def checkpoint(workspace: Workspace) -> None:
    """Write the write-ahead log into the database file (a read-only open then works)."""
    try:
        workspace.duckdb.execute("CHECKPOINT")
    except duckdb.Error as exc:  # e.g. a write still running: DuckDB checkpoints on close
        log.warning("checkpoint on shutdown failed: %s", exc)


def _start_serving_cache(state: WebState) -> None:
    """Start building the serving cache; a broken model must not keep the server down.

    Pages report the model's problem, and the model is re-read once its file is fixed (the
    cache is then built on the first account page).
    """
    try:
        name = state.model().name
    except (VitalsignError, OSError) as exc:
        log.warning("serving cache not started: %s", exc)
        return
    state.serving.refresh(name)
