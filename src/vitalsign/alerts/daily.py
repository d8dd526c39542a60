"""The daily job: sync the sources, score today, evaluate the alerts, build digests, deliver.

Each step is transactional on its own (a sync source, a snapshot, an evaluation, a digest
batch, each delivered message), so a failing step leaves the others' state whole. A failed
step is reported and the later steps still run where they make sense: scoring runs on the
data already there when the sync fails; alerts are evaluated only on a fresh snapshot;
queued messages are delivered whatever happened before.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from vitalsign.alerts.channels import build_channels
from vitalsign.alerts.digest import enqueue_digests
from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.alerts.loading import ALERTS_FILE, LoadedAlertConfig, load_alert_config
from vitalsign.alerts.messages import plural
from vitalsign.alerts.outbox import Clock, drain
from vitalsign.alerts.tasks import utc_now
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.conflicts import retry_on_conflict
from vitalsign.store.output_paths import DEMO_MARK
from vitalsign.store.workspace import Workspace


@dataclass(frozen=True)
class StepResult:
    """How one step of the daily job went."""

    name: str
    status: str  # ok, failed or skipped
    detail: str
    trace: str | None = None  # the traceback of an unexpected error (a bug)

    @property
    def failed(self) -> bool:
        """True when the step failed."""
        return self.status == "failed"


@dataclass
class DailyReport:
    """The steps of one daily run."""

    as_of: dt.date
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no step failed (skipped steps are fine)."""
        return not any(s.failed for s in self.steps)

    def step(self, name: str) -> StepResult:
        """Return the result of the step called `name`."""
        return next(s for s in self.steps if s.name == name)


def _attempt(
    report: DailyReport,
    name: str,
    action: Callable[[], tuple[bool, str]],
    one_transaction: bool = False,
) -> bool:
    """Run one step, record its result, and return whether it succeeded.

    A step that is `one_transaction` (and may run twice) runs again after a short wait when
    it loses a write conflict, e.g. resolving an alert that someone is acknowledging in
    `vitalsign serve`. A conflict in sync fails that source (the next run loads it);
    delivery retries recording each message's outcome.
    """
    retries = [0]

    def counted(retry: int, error: BaseException) -> None:
        retries[0] = retry

    try:
        if one_transaction:
            ok, detail = retry_on_conflict(action, f"daily job, step {name}", on_retry=counted)
        else:
            ok, detail = action()
    except VitalsignError as exc:
        report.steps.append(StepResult(name, "failed", str(exc)))
        return False
    except Exception as exc:  # noqa: BLE001 - a bug in one step must not stop the others
        report.steps.append(
            StepResult(name, "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        )
        return False
    if retries[0]:
        detail += (
            f" (after {retries[0]} write-conflict {'retry' if retries[0] == 1 else 'retries'})"
        )
    report.steps.append(StepResult(name, "ok" if ok else "failed", detail))
    return ok


def _sync(workspace: Workspace, show_progress: bool) -> tuple[bool, str]:
    from vitalsign.ingest.sync import sync_workspace

    result = sync_workspace(workspace, show_progress=show_progress)
    if not result.results:
        return True, "no sources declared in vitalsign.yml"
    loaded = sum(r.loaded for r in result.results)
    failed = [
        f"{r.source} ({r.error or 'rows unaccounted for'})" for r in result.results if not r.ok
    ]
    detail = f"{plural(len(result.results), 'source')}, {plural(loaded, 'row')} loaded"
    if failed:
        detail += "; failed: " + ", ".join(failed)
    return result.ok, detail


def demo_date(connection: Any, today: dt.date) -> tuple[dt.date, str | None]:
    """The day a demo workspace's `run` scores: its data's last day, which is long past.

    Scored today, every demo account would be `insufficient_data` (its data stopped when the
    demo world was generated): docs/alerts.md, "The data date".
    """
    from vitalsign.store.data_end import data_end

    end = data_end(connection).at.date()
    if end >= today:
        return today, None
    return end, (
        f"a demo workspace (built by `vitalsign demo`) whose data ends on {end}: scoring as "
        f"of {end}, not today (give --as-of DATE to choose the day)"
    )


def run_daily(
    workspace: Workspace,
    as_of: dt.date | None = None,
    sync: bool = True,
    model_path: str | None = None,
    console: Console | None = None,
    wait_seconds: float = 0.0,
    show_progress: bool = True,
    clock: Clock = utc_now,
    today: dt.date | None = None,
) -> DailyReport:
    """Run the daily job on an open workspace and return what each step did.

    Without `as_of`, the job scores today, or the day of the newest data when the data
    lags by no more than its smallest freshness allowance (`engine.freshness.data_date`):
    windows then end where the data does, instead of counting missing days as quiet ones.

    >>> run_daily(open_workspace("acme")).ok  # doctest: +SKIP
    True
    """
    from vitalsign.engine.backends import connect_engine
    from vitalsign.engine.freshness import data_date
    from vitalsign.engine.run import score
    from vitalsign.store.freshness import stale_lines

    day = as_of or today or dt.date.today()
    report = DailyReport(as_of=day)
    connection = workspace.duckdb
    model: list[LoadedModel] = []
    alerts: list[LoadedAlertConfig] = []

    if sync:
        _attempt(report, "sync", lambda: _sync(workspace, show_progress))
    else:
        report.steps.append(StepResult("sync", "skipped", "--no-sync"))

    def scoring() -> tuple[bool, str]:
        nonlocal day
        model[:] = [workspace.load_model(model_path)]
        lines = []
        if as_of is None:
            chosen, reason = data_date(connect_engine(workspace), model[0].spec, day)
            if reason is None and (workspace.root / DEMO_MARK).exists():
                chosen, reason = demo_date(connection, day)
            if reason is not None:
                day = report.as_of = chosen
                lines.append(reason)
        scored = score(workspace, day, model[0])
        counts = scored.scores["band"].value_counts().to_dict()
        scored_line = f"{plural(len(scored.scores), 'account')} as of {day} with {model[0].name}"
        lines.insert(0, f"{scored_line}: {counts}")
        lines += stale_lines(connection, model[0].name, [day])
        return True, "\n".join(lines)

    scored_ok = _attempt(report, "score", scoring, one_transaction=True)

    def configuration() -> tuple[bool, str]:
        path = workspace.root / ALERTS_FILE
        spec = model[0].spec if model else workspace.load_model(model_path).spec
        alerts[:] = [load_alert_config(path, spec)]
        return True, f"{path.name}: {plural(len(alerts[0].config.rules), 'rule')}"

    if not (workspace.root / ALERTS_FILE).exists():
        for name in ("alerts", "digest", "deliver"):
            report.steps.append(
                StepResult(name, "skipped", f"no {ALERTS_FILE} in the workspace (docs/alerts.md)")
            )
        return report
    if not _attempt(report, "config", configuration):
        for name in ("alerts", "digest", "deliver"):
            report.steps.append(StepResult(name, "skipped", f"{ALERTS_FILE} could not be loaded"))
        return report
    config = alerts[0].config

    def evaluation() -> tuple[bool, str]:
        result = evaluate_alerts(connection, config, model[0], day, now=clock())
        warnings = (
            f" ({plural(len(result.warnings), 'warning')}: {result.warnings[0]})"
            if result.warnings
            else ""
        )
        return True, result.line() + warnings

    if scored_ok:
        _attempt(report, "alerts", evaluation, one_transaction=True)
    else:
        report.steps.append(StepResult("alerts", "skipped", "no fresh snapshot (scoring failed)"))

    def digests() -> tuple[bool, str]:
        loaded = model[0] if model else workspace.load_model(model_path)
        result = enqueue_digests(
            connection,
            config,
            loaded.name,
            day,
            now=clock(),
            overridable=list(loaded.spec.overrides.signals),
        )
        return (
            True,
            f"{plural(len(result.digests), 'digest')}, {plural(result.queued, 'message')} queued",
        )

    _attempt(report, "digest", digests, one_transaction=True)

    def review_reminder() -> tuple[bool, str]:
        from vitalsign.alerts.review_reminder import queue_review_reminder
        from vitalsign.analytics.review_store import last_review_date, reviews_root

        last = last_review_date(reviews_root(workspace))
        return True, queue_review_reminder(connection, config, last, day, now=clock()).line()

    if config.review is not None:
        _attempt(report, "review", review_reminder, one_transaction=True)

    def delivery() -> tuple[bool, str]:
        channels = build_channels(config.channels, console)
        result = drain(connection, channels, config.outbox, wait_seconds, clock=clock)
        detail = f"{result.delivered} delivered, {result.pending} waiting for a retry"
        if result.failed:
            detail += f", {result.failed} gave up (see `vitalsign alerts outbox`)"
        if result.errors:
            detail += "; " + "; ".join(f"{k}: {v}" for k, v in sorted(result.errors.items()))
        return result.ok, detail

    _attempt(report, "deliver", delivery)
    return report


def describe_report(report: DailyReport) -> list[tuple[str, str, str]]:
    """Return (step, status, detail) rows for printing."""
    return [(s.name, s.status, s.detail) for s in report.steps]


def run_daily_in(directory: Any, **options: Any) -> DailyReport:
    """Open the workspace in `directory`, run the daily job, and close it (for schedules)."""
    from vitalsign.store.workspace import open_workspace

    workspace = open_workspace(directory)
    try:
        return run_daily(workspace, **options)
    finally:
        workspace.close()
