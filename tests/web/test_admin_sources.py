"""/admin/sources and /admin/jobs: what they show, retry, sync now, run now, and who is refused."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from admin_world import AdminWorld, admin_world
from fastapi.routing import APIRoute

from vitalsign.web import admin_jobs, admin_sources


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminWorld]:
    """One small served workspace for the module."""
    with admin_world(tmp_path_factory.mktemp("admin-sources") / "ws") as world:
        yield world


@pytest.fixture(scope="module")
def root(served: AdminWorld) -> Iterator[httpx.Client]:
    """The admin signed in once through the login form (session cookie) for the module."""
    with served.login("root") as browser:
        yield browser


def _csrf(browser: httpx.Client, path: str) -> str:
    """The session's CSRF token, read from a page's form."""
    return browser.get(path).text.split('name="csrf_token" value="')[1].split('"')[0]


# Every admin route: (method, path, form or JSON body). Pages are forms, /api/v1 takes JSON.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/admin/sources", None),
    ("POST", "/admin/sources/retry", {"scope": "all"}),
    ("POST", "/admin/sources/sync", {}),
    ("GET", "/admin/jobs", None),
    ("POST", "/admin/jobs/run", {"job": "daily"}),
    ("GET", "/api/v1/admin/sources", None),
    ("GET", "/api/v1/admin/sources/runs", None),
    ("GET", "/api/v1/admin/quarantine", None),
    ("POST", "/api/v1/admin/quarantine/retry", {}),
    ("POST", "/api/v1/admin/sources/sync", {}),
    ("GET", "/api/v1/admin/jobs", None),
    ("POST", "/api/v1/admin/jobs/daily/run", {}),
]


def _call(client: httpx.Client, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if method == "GET":
        return client.get(path, follow_redirects=False)
    if path.startswith("/api/"):
        return client.post(path, json=body, follow_redirects=False)
    return client.post(path, data=body, follow_redirects=False)


def test_every_admin_route_is_in_the_refusal_table() -> None:
    routers = (admin_sources.pages, admin_sources.api, admin_jobs.pages, admin_jobs.api)
    declared = {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    tested = {(m, p.replace("/jobs/daily/run", "/jobs/{job}/run")) for m, p, _ in ROUTES}
    assert declared == tested


def test_anonymous_viewer_csm_and_manager_are_refused_everywhere(served: AdminWorld) -> None:
    jobs_before = served.count("SELECT count(*) FROM job_runs")
    with served.client() as anonymous:
        for method, path, body in ROUTES:
            reply = _call(anonymous, method, path, body)
            if path.startswith("/api/"):
                assert reply.status_code == 401, (method, path)
            else:
                assert reply.status_code == 303, (method, path)
                assert (
                    reply.headers["location"].endswith("/login")
                    or "/login" in reply.headers["location"]
                ), (method, path)
    for user in ("vic", "alice", "maria"):  # with their API tokens, on pages and API alike
        with served.client(user) as client:
            for method, path, body in ROUTES:
                reply = _call(client, method, path, body)
                assert reply.status_code == 403, (user, method, path, reply.text[:200])
    with served.login("vic") as browser:  # and a viewer signed in, with a valid CSRF token
        token = browser.get("/").text.split('name="csrf_token" value="')[1].split('"')[0]
        for method, path, body in ROUTES:
            form = {**(body or {}), "csrf_token": token} if method == "POST" else None
            if path.startswith("/api/"):
                browser.headers["X-CSRF-Token"] = token
            reply = _call(browser, method, path, form)
            assert reply.status_code == 403, ("vic", method, path, reply.text[:200])
    assert served.count("SELECT count(*) FROM job_runs") == jobs_before  # nothing started


def test_forms_and_session_api_calls_without_the_csrf_token_are_refused(
    served: AdminWorld, root: httpx.Client
) -> None:
    browser = root
    for path, form in (
        ("/admin/sources/retry", {"scope": "all"}),
        ("/admin/sources/sync", {}),
        ("/admin/jobs/run", {"job": "daily"}),
    ):
        reply = browser.post(path, data=form, follow_redirects=False)
        assert reply.status_code == 403 and "expired" in reply.text, path
    for path in ("/api/v1/admin/quarantine/retry", "/api/v1/admin/jobs/daily/run"):
        reply = browser.post(path, json={})
        assert reply.status_code == 403 and reply.json()["error"]["code"] == "csrf", path
    assert served.count("SELECT count(*) FROM job_runs") == 0


def test_an_admin_sees_each_source_its_runs_and_the_quarantine_with_reasons(
    served: AdminWorld, root: httpx.Client
) -> None:
    with served.client("root") as api:
        listed = api.get("/api/v1/admin/sources").json()
        quarantine = api.get("/api/v1/admin/quarantine", params={"per_page": 2}).json()
        runs = api.get("/api/v1/admin/sources/runs").json()
    by_table = {(s["table"], s["declared"]): s for s in listed["sources"]}
    tickets = next(s for s in listed["sources"] if s["source"].endswith("tickets.csv"))
    assert tickets["last_run"]["read"] == 4 and tickets["last_run"]["inserted"] == 1
    assert tickets["last_run"]["quarantined"] == 3 and tickets["pending"] == 3
    assert tickets["last_sync"] is not None and tickets["freshness"] is not None
    assert by_table[("tickets", "desk")]["runs"] == 0  # declared, never synced yet
    assert quarantine["total"] == 3 and len(quarantine["items"]) == 2  # paged
    reasons = {q["reason"] for q in quarantine["items"]}
    assert any("unknown account" in r for r in reasons) or any("created_at" in r for r in reasons)
    assert {r["table"] for r in runs} == {"accounts", "tickets"}
    page = root.get("/admin/sources")
    assert page.status_code == 200
    assert 'id="sources"' in page.text and 'id="quarantine"' in page.text
    assert "unknown account: no account matches account_id &#34;a9&#34;" in page.text
    assert page.text.count('name="ids"') == 3 and 'id="runs"' in page.text


def test_retry_loads_the_rows_that_now_pass_once_and_keeps_the_others(
    served: AdminWorld, root: httpx.Client
) -> None:
    cursor = served.workspace.duckdb.cursor()
    cursor.execute(
        "INSERT INTO accounts (account_id, name, created_at) VALUES ('a9', 'Nine', '2023-01-01')"
    )
    cursor.close()
    ids = [
        int(r[0])
        for r in served.workspace.duckdb.cursor()
        .execute("SELECT quarantine_id FROM quarantine WHERE raw LIKE '%a9%' ORDER BY 1")
        .fetchall()
    ]
    browser = root
    csrf = _csrf(browser, "/admin/sources")
    reply = browser.post(
        "/admin/sources/retry",
        data={"ids": [str(ids[0])], "scope": "chosen", "csrf_token": csrf},
        follow_redirects=True,
    )
    again = browser.post(
        "/admin/sources/retry",
        data={"ids": [str(ids[0])], "scope": "chosen", "csrf_token": csrf},
        follow_redirects=True,
    )
    assert reply.status_code == 200
    assert "Retried 1 row: 1 loaded, 0 still quarantined." in reply.text
    assert "Nothing to retry" in again.text  # it left the quarantine: a second click loads nothing
    assert served.count("SELECT count(*) FROM tickets WHERE ticket_id = 't2'") == 1
    with served.client("root") as api:
        rest = api.post("/api/v1/admin/quarantine/retry", json={}).json()
    # t3 (a9 exists now) loads; t4's date stays bad; desk's rows were never quarantined yet
    assert (rest["retried"], rest["loaded"], rest["kept"]) == (2, 1, 1)
    assert list(rest["reasons"]) and "created_at" in next(iter(rest["reasons"]))
    assert served.count("SELECT count(*) FROM tickets WHERE ticket_id IN ('t2', 't3')") == 2
    assert served.count("SELECT count(*) FROM audit_log WHERE action = 'quarantine.retry'") == 2
    with served.client("root") as api:
        listed = api.get("/api/v1/admin/sources").json()["sources"]
        runs = api.get("/api/v1/admin/sources/runs").json()
    tickets = next(s for s in listed if s["source"].endswith("tickets.csv"))
    # the retries are in the run history, but the source's last sync is still the file's
    assert (tickets["last_run"]["kind"], tickets["last_run"]["read"], tickets["runs"]) == (
        "file",
        4,
        1,
    )
    assert tickets["pending"] == 1 and [r["kind"] for r in runs[:2]] == ["retry", "retry"]


def test_sync_now_runs_the_declared_sources_as_a_job_and_the_page_shows_it(
    served: AdminWorld, root: httpx.Client
) -> None:
    served.wait_for_jobs()
    browser = root
    started = browser.post(
        "/admin/sources/sync",
        data={"csrf_token": _csrf(browser, "/admin/sources")},
        follow_redirects=False,
    )
    assert started.status_code == 303 and "sync=" in started.headers["location"]
    served.wait_for_jobs()
    page = browser.get("/admin/sources").text
    with served.client("root") as api:
        desk = next(
            s for s in api.get("/api/v1/admin/sources").json()["sources"] if s["declared"] == "desk"
        )
        jobs = api.get("/api/v1/admin/jobs").json()
    assert desk["last_run"]["read"] == 3 and desk["last_run"]["inserted"] == 2
    assert desk["pending"] == 1 and desk["runs"] == 1
    assert desk["source"] == "desk"  # under its name, not its file's path
    with served.client("root") as api:
        rows = api.get("/api/v1/admin/quarantine", params={"source": "desk"}).json()
    assert rows["total"] == 1 and rows["items"][0]["source"] == "desk"
    sync = next(r for r in jobs["runs"] if r["job"] == "sync")
    assert sync["status"] == "ok" and sync["started_by"] == "root" and sync["trigger"] == "web"
    assert sync["duration_seconds"] is not None and "desk → tickets: read 3" in sync["detail"]
    assert 'data-source="desk"' in page or ">desk<" in page


def test_run_now_runs_the_daily_job_once_in_the_background_while_pages_answer(
    served: AdminWorld, root: httpx.Client
) -> None:
    served.wait_for_jobs()
    before = served.count("SELECT count(*) FROM job_runs WHERE job = 'daily'")
    browser = root
    with served.client("root") as api:
        first = api.post("/api/v1/admin/jobs/daily/run")
        second = api.post("/api/v1/admin/jobs/daily/run")  # while the first runs
        sync = browser.post(
            "/admin/sources/sync", data={"csrf_token": _csrf(browser, "/admin/sources")}
        )
        started = time.perf_counter()
        during = browser.get("/admin/jobs")
        answered_in = time.perf_counter() - started
        served.wait_for_jobs()
        after = browser.get("/admin/jobs")
        listed = api.get("/api/v1/admin/jobs").json()
    assert first.status_code == 202 and first.json()["status"] == "running"
    assert second.status_code == 409 and "still running" in second.json()["error"]["message"]
    assert sync.status_code == 409 and "Not started: the daily job, started" in sync.text
    assert during.status_code == 200 and answered_in < 10
    assert 'id="job-running"' in during.text or first.json()["run_id"] in after.text
    assert served.count("SELECT count(*) FROM job_runs WHERE job = 'daily'") == before + 1
    run = next(r for r in listed["runs"] if r["run_id"] == first.json()["run_id"])
    assert run["status"] in ("ok", "failed") and run["duration_seconds"] is not None
    assert run["status"] == "ok", run["error"]
    assert "score ok" in run["detail"]
    assert f'data-run="{run["run_id"]}"' in after.text and 'id="job-running"' not in after.text


def test_the_scheduled_job_is_recorded_and_run_now_meanwhile_says_it_runs(
    served: AdminWorld, root: httpx.Client
) -> None:
    """As `serve --schedule` wires it: the cron calls the runner, which records the run."""
    from apscheduler.triggers.date import DateTrigger

    from vitalsign.alerts.scheduler import build_scheduler, parse_cron

    served.wait_for_jobs()
    runner = served.app.state.jobs
    form = {"job": "daily", "csrf_token": _csrf(root, "/admin/jobs")}
    scheduler = build_scheduler(
        DateTrigger(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5)),
        partial(runner.run, "daily"),
        background=True,
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while runner.current is None:
            assert time.monotonic() < deadline, "the scheduled job did not start"
            time.sleep(0.02)
        refused = root.post("/admin/jobs/run", data=form, follow_redirects=False)
        served.wait_for_jobs()
    finally:
        scheduler.shutdown(wait=True)
    assert refused.status_code == 409
    assert "Not started: the daily job, started" in refused.text
    assert "by scheduler, is still running" in refused.text
    runner.schedule, runner.trigger = "0 6 * * *", parse_cron("0 6 * * *", "UTC")
    try:
        page = root.get("/admin/jobs").text
        with served.client("root") as api:
            listed = api.get("/api/v1/admin/jobs").json()
    finally:
        runner.schedule = runner.trigger = None
    assert 'vitalsign serve --schedule "0 6 * * *"' in page and "; next run " in page
    assert "runs the daily job (vitalsign run: sync" in page
    assert "the daily job (the daily job" not in page  # said once
    assert listed["schedule"] == "0 6 * * *" and listed["next_run"].endswith("T06:00:00+00:00")
    latest = listed["runs"][0]
    assert (latest["trigger"], latest["started_by"], latest["status"]) == (
        "schedule",
        "scheduler",
        "ok",
    )


def test_a_failed_sync_shows_its_error_and_the_other_sources_still_sync(
    served: AdminWorld, root: httpx.Client
) -> None:
    served.wait_for_jobs()
    config = served.workspace.root / "vitalsign.yml"
    before = config.read_text()
    config.write_text(before + "  - name: gone\n    path: gone.csv\n    into: tickets\n")
    try:
        with served.client("root") as api:
            started = api.post("/api/v1/admin/sources/sync")
            served.wait_for_jobs()
            run = api.get("/api/v1/admin/jobs").json()["runs"][0]
        page = root.get("/admin/jobs").text
    finally:
        config.write_text(before)
    assert started.status_code == 202 and run["run_id"] == started.json()["run_id"]
    assert run["status"] == "failed" and "gone: gone.csv: no such file" in run["error"]
    assert "desk → tickets" in run["detail"]  # the declared source that works still synced
    assert f'<tr class="job-failed" data-run="{run["run_id"]}">' in page
    assert 'class="outcome error">failed' in page


def test_a_run_left_running_by_a_stopped_server_shows_as_interrupted(tmp_path: Path) -> None:
    from vitalsign.store.workspace import init_workspace
    from vitalsign.web.jobs import JobRunner, list_job_runs

    workspace = init_workspace(tmp_path / "ws")
    workspace.duckdb.execute(
        "INSERT INTO job_runs VALUES ('r1', 'daily', 'schedule', 'scheduler', now(), NULL, "
        "'running', '', NULL)"
    )
    JobRunner(workspace.root, workspace.duckdb.cursor)
    (run,) = list_job_runs(workspace.duckdb)
    assert run.status == "interrupted" and "stopped" in (run.error or "")
    workspace.close()


def test_the_admin_pages_and_their_api_routes_are_documented() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    web, api = ((docs / name).read_text(encoding="utf-8") for name in ("web.md", "api.md"))
    missing = [f"web.md: {p}" for m, p, _ in ROUTES if m == "GET" and "/api/" not in p]
    missing = [m for m in missing if f"`{m.split(': ')[1]}`" not in web]
    for router in (admin_sources.api, admin_jobs.api):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            missing += [
                f"api.md: {method} {route.path}"
                for method in route.methods
                if f"`{method} {route.path}" not in api
            ]
    assert missing == []
