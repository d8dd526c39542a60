"""`vitalsign alerts digest`, `deliver` and `outbox`: the messages the alerts send, and their queue.

Registered on the `alerts` group by alerts/commands.py, in the order `--help` lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


def alerts_digest(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Digest date (default latest).")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Build even when not due.")] = False,
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Build the digests due (daily or weekly, per owner) and queue them for delivery."""
    from vitalsign.alerts.digest import enqueue_digests
    from vitalsign.alerts.messages import plural
    from vitalsign.engine.snapshots import resolve_date

    ws, loaded, config = open_context(workspace, model)
    day = resolve_date(ws.duckdb, loaded.name, parse_date(as_of, "--as-of"))
    report = enqueue_digests(
        ws.duckdb,
        config,
        loaded.name,
        day,
        force=force,
        only_owner=owner,
        overridable=list(loaded.spec.overrides.signals),
    )
    console.print(
        f"{plural(len(report.digests), 'digest')} built for {day}: "
        f"{', '.join(d['owner'] for d in report.digests) or 'none due'}; "
        f"{plural(report.queued, 'message')} queued",
        highlight=False,
    )


def alerts_deliver(
    wait: Annotated[str, typer.Option("--wait", help="Keep retrying this long, e.g. 10m.")] = "0s",
    now: Annotated[
        bool, typer.Option("--now", help="Try every pending message now, ignoring backoff.")
    ] = False,
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Send the queued messages; failed ones are retried with backoff."""
    from vitalsign.alerts.channels import build_channels
    from vitalsign.alerts.outbox import drain

    ws, _, config = open_context(workspace, model)
    result = drain(
        ws.duckdb,
        build_channels(config.channels, console),
        config.outbox,
        parse_duration(wait, "--wait"),
        ignore_backoff=now,
    )
    console.print(
        f"{result.delivered} delivered, {result.pending} waiting for a retry"
        + (f" (next at {result.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)" if result.pending else "")
        + (f", {result.failed} gave up" if result.failed else ""),
        highlight=False,
    )
    for channel, error in sorted(result.errors.items()):
        console.print(f"{channel}: {error}", style="yellow", highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(1)


def alerts_outbox(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or failed.")
    ] = None,
    retry: Annotated[
        bool, typer.Option("--retry", help="Requeue the messages that gave up.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="How many to show.")] = 50,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Show the outbox (messages, attempts, errors); --retry requeues the failed ones."""
    from vitalsign.alerts.messages import plural
    from vitalsign.alerts.outbox import list_outbox, retry_failed
    from vitalsign.store.workspace import open_workspace

    connection = open_workspace(workspace).duckdb
    if retry:
        console.print(f"Requeued {plural(retry_failed(connection), 'message')}")
        return
    frame = list_outbox(connection, status, limit)
    table = Table(title=f"Outbox ({len(frame)} shown)", title_justify="left")
    for column in (
        "message",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next attempt",
    ):
        table.add_column(column)
    table.add_column("error", overflow="fold")  # whole: it says why and how to fix it
    for row in frame.itertuples(index=False):
        table.add_row(
            str(row.message_id),
            str(row.channel),
            str(row.recipient),
            str(row.status),
            str(row.attempts),
            "" if row.status != "pending" else str(row.next_attempt_at),
            "" if row.last_error is None else str(row.last_error)[:400],
        )
    console.print(table)
