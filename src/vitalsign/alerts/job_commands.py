"""`vitalsign run` and `vitalsign schedule`: the daily job, once or on a cron schedule."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vitalsign.alerts.cli_options import (
    ModelOption,
    WorkspaceOption,
    console,
    open_context,
    parse_duration,
)
from vitalsign.cli_values import parse_date


def run(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Date (default today, or the newest data's day when it lags)."
        ),
    ] = None,
    no_sync: Annotated[bool, typer.Option("--no-sync", help="Skip syncing the sources.")] = False,
    wait: Annotated[
        str, typer.Option("--wait", help="Keep retrying failed deliveries this long, e.g. 5m.")
    ] = "0s",
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """The daily job: sync sources, score today, evaluate alerts, build digests, deliver."""
    from vitalsign.alerts.daily import run_daily
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    report = run_daily(
        ws,
        as_of=parse_date(as_of, "--as-of"),
        sync=not no_sync,
        model_path=model,
        console=console,
        wait_seconds=parse_duration(wait, "--wait"),
    )
    _print_daily(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_daily(report: Any) -> None:
    table = Table(title=f"vitalsign run {report.as_of}", title_justify="left")
    for column in ("step", "status", "detail"):
        table.add_column(column)
    styles = {"ok": "green", "failed": "red", "skipped": "dim"}
    for step in report.steps:
        table.add_row(step.name, f"[{styles[step.status]}]{step.status}[/]", step.detail)
    console.print(table)
    for step in report.steps:
        if step.trace:
            sys.stderr.write(f"step {step.name} failed with an unexpected error:\n{step.trace}")


def schedule(
    cron: Annotated[str, typer.Option("--cron", help='Crontab expression, e.g. "0 6 * * *".')],
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA zone of the cron (default local).")
    ] = None,
    retry_every: Annotated[
        str, typer.Option("--retry-every", help="Retry failed deliveries this often.")
    ] = "60s",
    no_sync: Annotated[bool, typer.Option("--no-sync", help="Skip syncing the sources.")] = False,
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Run `vitalsign run` on a cron schedule in the foreground (Ctrl-C stops)."""
    from vitalsign.alerts.scheduler import build_scheduler, parse_cron
    from vitalsign.store.workspace import open_workspace

    trigger = parse_cron(cron, timezone)
    root = open_workspace(workspace).root  # fail now, not at 6 am, if the folder is wrong
    interval = parse_duration(retry_every, "--retry-every")
    daily, retries = daily_jobs(root, sync=not no_sync, model=model)
    scheduler = build_scheduler(
        trigger, daily, retries if interval > 0 else None, interval, timezone
    )
    console.print(f"{describe_schedule(cron, trigger)} Ctrl-C stops.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        console.print("Stopped.")


def daily_jobs(root: Path, sync: bool, model: str | None) -> tuple[Any, Any]:
    """Return the scheduled daily job and the outbox retry job for the workspace at `root`.

    Each opens the workspace and closes it when done (in `vitalsign serve`, opening it shares
    the server's database).
    """
    from vitalsign.alerts.daily import run_daily_in

    def daily() -> None:
        report = run_daily_in(
            root, sync=sync, model_path=model, console=console, show_progress=False
        )
        _print_daily(report)

    def retries() -> None:
        from vitalsign.alerts.channels import build_channels
        from vitalsign.alerts.loading import ALERTS_FILE
        from vitalsign.alerts.outbox import deliver_due

        if not (root / ALERTS_FILE).exists():
            return
        ws, _, config = open_context(root, model)
        try:
            result = deliver_due(ws.duckdb, build_channels(config.channels, console), config.outbox)
            if result.delivered:
                console.print(f"outbox: {result.delivered} delivered on retry", highlight=False)
        finally:
            ws.close()

    return daily, retries


def describe_schedule(cron: str, trigger: Any) -> str:
    """Say when the daily job runs next, e.g. for the start-up line of `schedule` or `serve`."""
    from vitalsign.alerts.scheduler import next_fire_times

    now = dt.datetime.now(dt.UTC).astimezone()
    shown = "%Y-%m-%d %H:%M:%S %Z" if len(cron.split()) == 6 else "%Y-%m-%d %H:%M %Z"
    upcoming = ", ".join(f"{t:{shown}}" for t in next_fire_times(trigger, 3, now))
    return f"Scheduled `vitalsign run` on {cron!r}; next runs: {upcoming}."
