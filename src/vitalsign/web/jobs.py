"""Jobs the server runs in the background: the scheduled daily job, "run now" and "sync now".

`vitalsign serve --schedule` runs the daily job (`vitalsign run`) on its cron; admins can
start it, or a sync of the sources, from /admin/jobs and /admin/sources. Each job runs on a
thread of the server with its own connection to the workspace's database, as a relayed
command does (web/relay_server.py), so pages keep answering while it runs. One job runs at a
time: a click while one runs is refused and says which one runs (the scheduled job waits
for it instead), and so does a `vitalsign run` or `vitalsign sync` typed in a terminal and
relayed into the server (web/relay_server.py). Every run is a row of `job_runs`: who or what
started it, when, how long it took, its outcome, what each step did and the error of a failed
one; `vitalsign serve` prints one line per finished run (web/serve_command.py).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitalsign.errors import VitalsignError

log = logging.getLogger("vitalsign.web")

JOBS = {
    "daily": "the daily job (vitalsign run: sync, score, alerts, digests, delivery)",
    "sync": "a sync of the sources declared in vitalsign.yml (vitalsign sync)",
}
"""The jobs an admin may start, and what each one does."""
_COLUMNS = "run_id, job, trigger, started_by, started_at, finished_at, status, detail, error"


class JobBusy(VitalsignError):
    """A job was asked to start while another one runs."""


@dataclass(frozen=True)
class JobRun:
    """One run of a job: running, ok, failed, or interrupted (the server stopped during it)."""

    run_id: str
    job: str
    trigger: str  # schedule, web or cli
    started_by: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    detail: str
    error: str | None

    @property
    def duration_seconds(self) -> float | None:
        """How long the run took (None while it runs)."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 1)


Work = Callable[[], tuple[bool, str, str | None]]
"""A job's body: (ok, what it did, the error of a failed run)."""


def describe_run(run: JobRun) -> str:
    """Name a run in progress, e.g. "daily job, started 17:25:47 UTC by root"."""
    return f"{run.job} job, started {run.started_at:%H:%M:%S} UTC by {run.started_by}"


def describe_finished(run: JobRun) -> str:
    """One line for the server's log: the job, its trigger, who, outcome, duration, error."""
    line = (
        f"job {run.job} ({run.trigger}, by {run.started_by}) {run.status} "
        f"in {run.duration_seconds or 0:.1f} s"
    )
    if run.error:
        line += f": {' '.join(run.error.split())}"
    return line


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def list_job_runs(
    connection: Any, job: str | None = None, limit: int = 20, offset: int = 0
) -> list[JobRun]:
    """Return the runs of one job (or all), newest first."""
    where, params = ("WHERE job = ?", [job]) if job else ("", [])
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM job_runs {where} ORDER BY started_at DESC, run_id "
        "LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [JobRun(*row) for row in rows]


def count_job_runs(connection: Any, job: str | None = None) -> int:
    """Return how many runs `list_job_runs` could page through."""
    where, params = ("WHERE job = ?", [job]) if job else ("", [])
    return int(connection.execute(f"SELECT count(*) FROM job_runs {where}", params).fetchone()[0])


def _run_daily(root: Path, sync: bool, model: str | None) -> tuple[bool, str, str | None]:
    """Run the daily job on its own connection: (ok, what each step did, the failures)."""
    from rich.console import Console

    from vitalsign.alerts.daily import run_daily_in

    quiet = Console(file=io.StringIO(), width=120)
    report = run_daily_in(root, sync=sync, model_path=model, console=quiet, show_progress=False)
    detail = "\n".join(f"{s.name} {s.status}: {s.detail}" for s in report.steps)
    failed = "; ".join(f"{s.name}: {s.detail}" for s in report.steps if s.failed)
    return report.ok, f"as of {report.as_of}\n{detail}", failed or None


def _run_sync(root: Path) -> tuple[bool, str, str | None]:
    """Sync every declared source on its own connection: (ok, per source counts, failures)."""
    from vitalsign.ingest.sync import sync_workspace
    from vitalsign.store.workspace import open_workspace

    workspace = open_workspace(root)
    try:
        report = sync_workspace(workspace, show_progress=False)
    finally:
        workspace.close()
    if not report.results:
        return True, "no sources declared in vitalsign.yml", None
    detail = "\n".join(
        f"{r.source} → {r.table}: read {r.read}, inserted {r.inserted}, updated {r.updated}, "
        f"quarantined {r.quarantined}" + (f" (failed: {r.error})" if r.error else "")
        for r in report.results
    )
    failures = [
        f"{r.source}: {r.error or 'rows unaccounted for'}" for r in report.results if not r.ok
    ]
    if report.billing_error:
        failures.append(f"billing: {report.billing_error}")
    return report.ok, detail, "; ".join(failures) or None


class JobRunner:
    """Runs the server's jobs one at a time on background threads and records each run.

    `cursor()` gives a fresh DuckDB cursor on the served workspace (for the `job_runs` rows);
    the job itself opens the workspace folder again, which shares the server's database.
    """

    def __init__(
        self,
        root: Path,
        cursor: Callable[[], Any],
        sync: bool = True,
        model: str | None = None,
    ) -> None:
        self.root = root
        self.cursor = cursor
        self.sync = sync  # `serve --no-sync` turns it off for scheduled and manual runs alike
        self.model = model
        self.schedule: str | None = None  # the cron of `serve --schedule`, shown on the page
        self.trigger: Any = None  # its APScheduler trigger (when it runs next)
        self._lock = threading.Lock()
        self._current: JobRun | None = None
        self.threads: set[threading.Thread] = set()
        self.on_finish: list[Callable[[JobRun], None]] = []  # e.g. serve's log line
        self._mark_interrupted()

    def _mark_interrupted(self) -> None:
        """Runs left `running` by a server that stopped during them: say so."""
        with self._cursor() as cur:
            cur.execute(
                "UPDATE job_runs SET status = 'interrupted', error = 'the server stopped "
                "while it ran' WHERE status = 'running'"
            )

    def _cursor(self) -> closing[Any]:
        return closing(self.cursor())

    @property
    def current(self) -> JobRun | None:
        """The run in progress, if any."""
        return self._current

    def start(self, job: str, by: str, trigger: str = "web") -> JobRun:
        """Start `job` on a background thread, or raise JobBusy while another one runs."""
        _check_job(job)
        if not self._lock.acquire(blocking=False):
            running = self._current
            what = f"{describe_run(running)}," if running else "other job"
            raise JobBusy(
                f"the {what} is still running; wait for it to finish (this page shows it), "
                "then start the job again"
            )
        try:
            run = self._begin(job, by, trigger)
            worker = threading.Thread(
                target=self._finish_on_thread, args=(run,), name=f"job-{job}", daemon=True
            )
            self.threads.add(worker)
            worker.start()
        except BaseException:
            self._current = None
            self._lock.release()
            raise
        return run

    def run(
        self,
        job: str,
        by: str = "scheduler",
        trigger: str = "schedule",
        work: Work | None = None,
        waiting: Callable[[JobRun | None], None] | None = None,
    ) -> JobRun:
        """Run `job` on the calling thread, after the job in progress if any.

        The schedule runs the job itself; a relayed `vitalsign run` or `sync` passes its
        command as `work`, and `waiting` is told which run it waits for (None: one that just
        ended).
        """
        _check_job(job)
        if not self._lock.acquire(blocking=False):
            if waiting is not None:
                waiting(self._current)
            self._lock.acquire()
        try:
            run = self._begin(job, by, trigger)
            try:
                return self._execute(run, work)
            finally:
                self._current = None
        finally:
            self._lock.release()

    def _begin(self, job: str, by: str, trigger: str) -> JobRun:
        run = JobRun(uuid.uuid4().hex[:16], job, trigger, by, _now(), None, "running", "", None)
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO job_runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, ?, '', NULL)",
                [run.run_id, job, trigger, by, run.started_at, run.status],
            )
        self._current = run
        return run

    def _finish_on_thread(self, run: JobRun) -> None:
        try:
            self._execute(run)
        finally:
            self._current = None
            self._lock.release()
            self.threads.discard(threading.current_thread())

    def _execute(self, run: JobRun, work: Work | None = None) -> JobRun:
        """Run the job, then record its outcome (a bug fails the run with its traceback logged)."""
        log.info("job %s started (%s, by %s)", run.job, run.trigger, run.started_by)
        try:
            if work is not None:
                ok, detail, error = work()
            elif run.job == "daily":
                ok, detail, error = _run_daily(self.root, self.sync, self.model)
            else:
                ok, detail, error = _run_sync(self.root)
        except VitalsignError as exc:
            ok, detail, error = False, "", str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug fails the run; its traceback is logged
            log.error("job %s failed:\n%s", run.job, traceback.format_exc())
            ok, detail, error = False, "", f"{type(exc).__name__}: {exc}"
        finished = JobRun(
            run.run_id,
            run.job,
            run.trigger,
            run.started_by,
            run.started_at,
            _now(),
            "ok" if ok else "failed",
            detail,
            error,
        )
        with self._cursor() as cur:
            cur.execute(
                "UPDATE job_runs SET finished_at = ?, status = ?, detail = ?, error = ? "
                "WHERE run_id = ?",
                [finished.finished_at, finished.status, detail, error, run.run_id],
            )
        log.debug(  # serve prints one line per run (on_finish); this one has each step too
            "job %s %s in %.1f s: %s%s",
            run.job,
            finished.status,
            finished.duration_seconds or 0,
            detail.replace("\n", "; "),
            f"; error: {error}" if error else "",
        )
        for listener in self.on_finish:
            listener(finished)
        return finished


def _check_job(job: str) -> None:
    if job not in JOBS:
        raise VitalsignError(f"unknown job {job!r}; known: {', '.join(JOBS)}")
