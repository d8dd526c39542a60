"""/admin/jobs (admins): the scheduled job's last runs with outcome, duration and error; run now.

The page and its JSON twin under /api/v1/admin/jobs are a shell over vitalsign.web.jobs:
"run now" starts the daily job on a background thread of the server (pages keep answering)
and a second click while a job runs is refused with a 409 that says which job runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vitalsign.web.access import HttpProblem, Principal
from vitalsign.web.admin_schemas import JobRunOut, JobsOut
from vitalsign.web.admin_users import require_admin
from vitalsign.web.api_params import ERRORS, page_count
from vitalsign.web.auth import CurrentPrincipal, Database, check_api_csrf, check_form_csrf
from vitalsign.web.jobs import JOBS, JobBusy, JobRun, JobRunner, count_job_runs, list_job_runs
from vitalsign.web.rendering import page_url, render

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/admin", tags=["admin"])
PER_PAGE = 20


def job_runner(request: Request) -> JobRunner:
    """Return the app's JobRunner (created with the app)."""
    runner: JobRunner = request.app.state.jobs
    return runner


def run_out(run: JobRun) -> JobRunOut:
    """The API's view of a run."""
    return JobRunOut(
        run_id=run.run_id,
        job=run.job,
        trigger=run.trigger,
        started_by=run.started_by,
        started_at=run.started_at.isoformat(timespec="seconds"),
        finished_at=run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
        duration_seconds=run.duration_seconds,
        status=run.status,
        detail=run.detail,
        error=run.error,
    )


def next_run(runner: JobRunner) -> dt.datetime | None:
    """When the scheduled job runs next (None without a schedule)."""
    from vitalsign.alerts.scheduler import next_fire_times

    if runner.trigger is None:
        return None
    upcoming = next_fire_times(runner.trigger, 1, dt.datetime.now(dt.UTC).astimezone())
    return upcoming[0] if upcoming else None


def start_job(runner: JobRunner, job: str, principal: Principal) -> JobRun:
    """Start a job as `principal`; a job already running is a 409 saying which."""
    try:
        return runner.start(job, principal.name)
    except JobBusy as exc:
        raise HttpProblem(409, "busy", str(exc)) from exc


@pages.get("/admin/jobs", name="admin_jobs_page", response_class=HTMLResponse)
def admin_jobs_page(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """The scheduled job: when it runs next, what runs now, the last runs; run now."""
    require_admin(request, principal)
    return _render(request, db, principal, page)


def _render(
    request: Request,
    db: Any,
    principal: Principal,
    page: int = 1,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    runner = job_runner(request)
    total = count_job_runs(db)
    runs = list_job_runs(db, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    started = request.query_params.get("started")
    flashes = [flash] if flash else []
    if started and not flash:
        flashes.append("Job started; this page refreshes until it ends.")
    return render(
        request,
        "admin_jobs.html",
        principal,
        status_code=status_code,
        nav="admin",
        runner=runner,
        running=runner.current,
        next_run=next_run(runner),
        runs=runs,
        page=page,
        pages=page_count(total, PER_PAGE),
        total=total,
        jobs=JOBS,
        flashes=flashes,
    )


@pages.post("/admin/jobs/run", name="admin_job_run")
def admin_job_run(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    job: Annotated[str, Form()] = "daily",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Run now: start the job in the background and come back to the page."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    if job not in JOBS:
        raise HttpProblem(400, "bad_request", f"unknown job {job!r}; known: {', '.join(JOBS)}")
    try:
        run = job_runner(request).start(job, principal.name)
    except JobBusy as exc:
        return _render(request, db, principal, status_code=409, flash=f"Not started: {exc}.")
    url = page_url(request, "admin_jobs_page")
    return RedirectResponse(f"{url}?started={run.run_id}", status_code=303)


@api.get("/jobs", responses=ERRORS, response_model=JobsOut)
def api_jobs(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = PER_PAGE,
) -> JobsOut:
    """The job running now, the schedule and the last runs (admins)."""
    require_admin(request, principal)
    runner = job_runner(request)
    running = runner.current
    upcoming = next_run(runner)
    runs = list_job_runs(db, limit=per_page, offset=(page - 1) * per_page)
    return JobsOut(
        running=run_out(running) if running else None,
        schedule=runner.schedule,
        next_run=upcoming.isoformat(timespec="seconds") if upcoming else None,
        page=page,
        per_page=per_page,
        total=count_job_runs(db),
        runs=[run_out(r) for r in runs],
    )


@api.post(
    "/jobs/{job}/run",
    responses=ERRORS,
    response_model=JobRunOut,
    status_code=202,
)
def api_job_run(request: Request, principal: CurrentPrincipal, job: str) -> JobRunOut:
    """Start a job now (daily or sync) in the background: 202, or 409 while one runs."""
    require_admin(request, principal)
    check_api_csrf(request, principal)
    if job not in JOBS:
        raise HttpProblem(404, "not_found", f"unknown job {job!r}; known: {', '.join(JOBS)}")
    return run_out(start_job(job_runner(request), job, principal))
