"""/admin/sources (admins): each source's freshness, syncs and quarantine; retry; sync now.

Per source and table: the table's freshness under the model (as /status shows it), the last
successful sync, the last run with what it read, inserted, updated and quarantined (and its
error), and the pending quarantined rows; then the run history and the quarantined rows
with their reasons, page by page. "Retry" re-validates the chosen rows against today's
data and mapping (vitalsign.ingest.retry: each row loads once and leaves the quarantine);
"Sync now" starts `vitalsign sync` as a background job of the server (vitalsign.web.jobs).
The JSON twins live under /api/v1/admin.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vitalsign.errors import VitalsignError
from vitalsign.ingest.retry import RetryOutcome, retry_quarantined
from vitalsign.ingest.run_history import (
    QUARANTINE_STATUSES,
    RunRecord,
    count_runs,
    list_runs,
    quarantine_page,
    source_summaries,
)
from vitalsign.store.overrides import audit
from vitalsign.store.workspace import open_workspace
from vitalsign.web.access import HttpProblem, Principal
from vitalsign.web.admin_jobs import job_runner, run_out, start_job
from vitalsign.web.admin_schemas import (
    JobRunOut,
    QuarantinedOut,
    QuarantineOut,
    RetryIn,
    RetryOut,
    RunOut,
    SourceOut,
    SourcesOut,
)
from vitalsign.web.admin_users import require_admin
from vitalsign.web.api_params import ERRORS, page_count
from vitalsign.web.auth import (
    CurrentPrincipal,
    Database,
    State,
    check_api_csrf,
    check_form_csrf,
)
from vitalsign.web.jobs import JobBusy
from vitalsign.web.rendering import page_url, render
from vitalsign.web.state import WebState

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/admin", tags=["admin"])
RUNS_PER_PAGE = 20
ROWS_PER_PAGE = 50


def _moment(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _run(record: RunRecord) -> RunOut:
    return RunOut(
        run_id=record.run_id,
        source=record.source,
        table=record.table,
        kind=record.kind,
        started_at=record.started_at.isoformat(timespec="seconds"),
        finished_at=_moment(record.finished_at),
        duration_seconds=record.duration_seconds,
        status=record.status,
        read=record.read,
        inserted=record.inserted,
        updated=record.updated,
        unchanged=record.unchanged,
        quarantined=record.quarantined,
        deleted=record.deleted,
        error=record.error,
    )


def _freshness(db: Any, state: WebState) -> dict[str, dict[str, Any]]:
    """Each table's freshness under the model, as /status shows it (none if the model fails)."""
    from vitalsign.engine.status import workspace_status

    try:
        model = state.model().spec
    except (VitalsignError, OSError):  # the model page says what is wrong with it
        return {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return {row["table"]: row for row in workspace_status(db, model, now).rows()}


def sources(db: Any, state: WebState) -> list[SourceOut]:
    """Every source with its table's freshness, syncs, last run and pending rows."""
    fresh = _freshness(db, state)
    found = []
    for s in source_summaries(db, state.workspace):
        table = fresh.get(s.table, {})
        found.append(
            SourceOut(
                source=s.source,
                table=s.table,
                declared=s.declared,
                freshness=table.get("state"),
                newest_row=_moment(table.get("newest_row")),
                last_sync=_moment(s.last_ok),
                runs=s.runs,
                last_run=_run(s.last_run) if s.last_run else None,
                pending=s.pending,
            )
        )
    return found


def retry(state: WebState, principal: Principal, chosen: RetryIn) -> RetryOutcome:
    """Retry on a connection of its own (one transaction per source), audited."""
    workspace = open_workspace(state.workspace.root)
    try:
        outcome = retry_quarantined(workspace, chosen.ids or None, chosen.source, chosen.table)
        if not outcome.retried:
            return outcome
        audit(
            workspace.duckdb,
            principal.name,
            "quarantine.retry",
            chosen.source or chosen.table or "all sources",
            {
                "ids": len(chosen.ids or []) or "all pending",
                "loaded": outcome.loaded,
                "duplicates": outcome.duplicates,
                "kept": outcome.kept,
            },
        )
    finally:
        workspace.close()
    return outcome


def _retry_summary(params: Any) -> str:
    """The retry's summary, rebuilt from the counts in the redirect (never echoed text)."""
    counts = []
    for key in ("retried", "loaded", "duplicates", "kept"):
        text = params.get(key, "0")
        counts.append(int(text) if text.isdigit() else 0)
    retried, loaded, duplicates, kept = counts
    return RetryOutcome(retried, loaded, duplicates, kept).summary()


def _status(status: str) -> str | None:
    if status == "all":
        return None
    if status not in QUARANTINE_STATUSES:
        raise HttpProblem(
            400, "bad_request", f"status {status!r}: use all, {', '.join(QUARANTINE_STATUSES)}"
        )
    return status


@pages.get("/admin/sources", name="admin_sources_page", response_class=HTMLResponse)
def admin_sources_page(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    source: str = "",
    status: str = "pending",
    page: Annotated[int, Query(ge=1)] = 1,
    runs_page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """Sources, their runs and quarantined rows (with retry), and sync now."""
    require_admin(request, principal)
    return _render(request, state, db, principal, source, status, page, runs_page)


def _render(
    request: Request,
    state: WebState,
    db: Any,
    principal: Principal,
    source: str = "",
    status: str = "pending",
    page: int = 1,
    runs_page: int = 1,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    rows, total = quarantine_page(
        db, source or None, _status(status), ROWS_PER_PAGE, (page - 1) * ROWS_PER_PAGE
    )
    runs_total = count_runs(db, source or None)
    runs = list_runs(db, source or None, RUNS_PER_PAGE, (runs_page - 1) * RUNS_PER_PAGE)
    flashes = [flash] if flash else []
    params = request.query_params
    if params.get("retried") is not None and not flash:
        flashes.append(_retry_summary(params))
    if params.get("sync") and not flash:
        flashes.append("Sync started in the background; this page refreshes until it ends.")
    return render(
        request,
        "admin_sources.html",
        principal,
        status_code=status_code,
        nav="admin",
        sources=sources(db, state),
        running=job_runner(request).current,
        rows=rows,
        total=total,
        page=page,
        pages=page_count(total, ROWS_PER_PAGE),
        runs=runs,
        runs_total=runs_total,
        runs_page=runs_page,
        runs_pages=page_count(runs_total, RUNS_PER_PAGE),
        source=source,
        status=status,
        statuses=("all", *QUARANTINE_STATUSES),
        flashes=flashes,
    )


@pages.post("/admin/sources/retry", name="admin_sources_retry")
def admin_sources_retry(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    ids: Annotated[list[int] | None, Form()] = None,
    source: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "chosen",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Retry the ticked rows (or every pending row of the source shown) and say what happened."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    if scope == "chosen" and not ids:
        raise HttpProblem(400, "bad_request", "tick the rows to retry, or use 'Retry all pending'")
    chosen = RetryIn(ids=ids if scope == "chosen" else None, source=source or None)
    outcome = retry(state, principal, chosen)
    counts: dict[str, int | str] = {
        "retried": outcome.retried,
        "loaded": outcome.loaded,
        "duplicates": outcome.duplicates,
        "kept": outcome.kept,
    }
    if source:
        counts["source"] = source
    url = page_url(request, "admin_sources_page")
    return RedirectResponse(f"{url}?{urlencode(counts)}", status_code=303)


@pages.post("/admin/sources/sync", name="admin_sources_sync")
def admin_sources_sync(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Sync now: start `vitalsign sync` in the background (refused while a job runs)."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    try:
        run = job_runner(request).start("sync", principal.name)
    except JobBusy as exc:
        flash = f"Not started: {exc}."
        return _render(request, state, db, principal, status_code=409, flash=flash)
    url = page_url(request, "admin_sources_page")
    return RedirectResponse(f"{url}?sync={run.run_id}", status_code=303)


@api.get("/sources", responses=ERRORS, response_model=SourcesOut)
def api_sources(
    request: Request, state: State, db: Database, principal: CurrentPrincipal
) -> SourcesOut:
    """Every source: freshness, last sync, last run's counts, pending rows (admins)."""
    require_admin(request, principal)
    running = job_runner(request).current
    return SourcesOut(sources=sources(db, state), running=run_out(running) if running else None)


@api.get("/sources/runs", responses=ERRORS, response_model=list[RunOut])
def api_source_runs(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    source: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = RUNS_PER_PAGE,
) -> list[RunOut]:
    """The ingest runs (of one source), newest first (admins)."""
    require_admin(request, principal)
    return [_run(r) for r in list_runs(db, source, per_page, (page - 1) * per_page)]


@api.get("/quarantine", responses=ERRORS, response_model=QuarantineOut)
def api_quarantine(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    source: str | None = None,
    status: str = "pending",
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = ROWS_PER_PAGE,
) -> QuarantineOut:
    """Quarantined rows with their reasons, newest first (admins)."""
    require_admin(request, principal)
    rows, total = quarantine_page(db, source, _status(status), per_page, (page - 1) * per_page)
    items = [
        QuarantinedOut(
            quarantine_id=r.quarantine_id,
            run_id=r.run_id,
            source=r.source,
            table=r.table,
            line=r.line,
            raw=r.raw,
            reason=r.reason,
            status=r.status,
            quarantined_at=r.quarantined_at,
        )
        for r in rows
    ]
    return QuarantineOut(page=page, per_page=per_page, total=total, items=items)


@api.post("/quarantine/retry", responses=ERRORS, response_model=RetryOut)
def api_quarantine_retry(
    request: Request, state: State, principal: CurrentPrincipal, chosen: RetryIn
) -> RetryOut:
    """Retry pending rows against today's data and mapping; each row loads once (admins)."""
    require_admin(request, principal)
    check_api_csrf(request, principal)
    outcome = retry(state, principal, chosen)
    return RetryOut(
        retried=outcome.retried,
        loaded=outcome.loaded,
        duplicates=outcome.duplicates,
        kept=outcome.kept,
        reasons=outcome.reasons,
        summary=outcome.summary(),
    )


@api.post("/sources/sync", responses=ERRORS, response_model=JobRunOut, status_code=202)
def api_sources_sync(request: Request, principal: CurrentPrincipal) -> JobRunOut:
    """Sync now: start `vitalsign sync` in the background: 202, or 409 while a job runs."""
    require_admin(request, principal)
    check_api_csrf(request, principal)
    return run_out(start_job(job_runner(request), "sync", principal))
