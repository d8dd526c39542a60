"""CLI commands of the engine part: `status` (how current the data is)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

console = Console()

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Model file (default: the workspace's).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]

_STYLES = {"fresh": "green", "stale": "red", "empty": "dim", "untracked": "dim"}


def _when(value: dt.datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _age(days: float | None) -> str:
    if days is None:
        return "—"
    return f"{days * 24:.0f}h" if days < 2 else f"{days:.0f}d"


def status(
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
    json_: JsonOption = False,
) -> None:
    """Show how current the data is: each table's newest row and last sync, stale or not."""
    from vitalsign.engine.status import workspace_status
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    loaded = ws.load_model(model)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    found = workspace_status(ws.duckdb, loaded.spec, now)
    if json_:
        payload: dict[str, Any] = {
            "now": now,
            "model": found.model_name,
            "tables": found.rows(),
            "sources": [asdict(s) for s in found.sources],
            "latest_snapshot": found.latest_snapshot,
            "stale_in_latest_snapshot": [t.table for t in found.snapshot_tables if t.stale],
        }
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    tables = Table(
        title=f"Tables at {now:%Y-%m-%d %H:%M} UTC, model {found.model_name}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("table", "rows", "newest row", "age", "allowed", "state", "last sync"):
        right = column in ("rows", "age")
        tables.add_column(column, justify="right" if right else "left")
    for row in found.rows():
        allowed = "never" if row["allowed_days"] is None else f"{row['allowed_days']}d"
        newest = row["newest_row"]
        tables.add_row(
            row["table"],
            f"{row['rows']:,}",
            "—" if newest is None else f"{newest:%Y-%m-%d}",
            _age(row["age_days"]),
            allowed,
            f"[{_STYLES[row['state']]}]{row['state']}[/]",
            _when(row["last_sync"]),
        )
    console.print(tables)
    sources = Table(title="Sources (ingest runs)", title_justify="left", box=box.SIMPLE_HEAD)
    sources.add_column("source", overflow="fold")
    for column in ("table", "last successful sync", "last run", "status", "runs"):
        sources.add_column(column)
    for source in found.sources:
        sources.add_row(
            source.source,
            source.table,
            _when(source.last_ok),
            _when(source.last_run),
            source.last_status,
            str(source.runs),
        )
    if found.sources:
        console.print(sources)
    else:
        console.print("No ingest runs yet: the data was not loaded by `vitalsign ingest`/`sync`.")
    for table in found.stale:
        console.print(
            f"[red]stale[/] {table.table}: newest row {_when(table.newest)} is "
            f"{table.age_days or 0:.1f} days old (allowed {table.allowed_days}): its "
            f"{len(table.signals)} signals are missing from scores as of today",
            highlight=False,
        )
    if found.latest_snapshot is not None:
        stale = [t.table for t in found.snapshot_tables if t.stale]
        console.print(
            f"Latest snapshot {found.latest_snapshot}: "
            + (f"stale tables {', '.join(stale)}" if stale else "no stale table"),
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add status to the CLI."""
    app.command()(status)
