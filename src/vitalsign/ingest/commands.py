"""CLI commands of ingestion: ingest, sync, quarantine list/show/retry, ingest-key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(soft_wrap=True)  # a line per file, never cut at 80 columns in a pipe
WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]
quarantine_app = typer.Typer(
    help="Rows that could not be loaded: list, show, retry.", no_args_is_help=True
)


def ingest(
    path: Annotated[
        str, typer.Argument(help="File or glob: CSV, TSV, JSON, NDJSON, Parquet (.gz too).")
    ],
    into: Annotated[
        str | None, typer.Option("--into", help="Canonical table, e.g. events.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="YAML mapping file (docs/connectors.md).")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="target=source column or expression; identity.email=COL."),
    ] = None,
    format_: Annotated[
        str | None, typer.Option("--format", help="Known format, e.g. zendesk_tickets.")
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (detected).")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding, e.g. latin-1 (detected).")
    ] = None,
    snapshot: Annotated[
        bool,
        typer.Option(help="The file is a full export: keys it lacks are marked deleted."),
    ] = False,
    allow_deletes: Annotated[
        bool,
        typer.Option(help="With --snapshot: allow deleting more than --max-delete-share."),
    ] = False,
    max_delete_share: Annotated[
        float, typer.Option(help="With --snapshot: refuse to delete more than this share.")
    ] = 0.2,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Load files into a canonical table: new keys inserted, changed rows updated.

    Bad rows are quarantined with a reason; identical rows count as unchanged.
    """
    from vitalsign.ingest.files import expand_paths, load_file
    from vitalsign.ingest.mapping import Mapping, load_mapping, mapping_from_pairs
    from vitalsign.ingest.staging import LoadOptions
    from vitalsign.store.workspace import open_workspace

    base = load_mapping(mapping) if mapping else Mapping()
    options = {k: v for k, v in (("delimiter", delimiter), ("encoding", encoding)) if v}
    extra = Mapping.model_validate({"format": format_, "options": options})
    resolved = mapping_from_pairs(map_ or [], extra.over(base))
    ws = open_workspace(workspace)
    load = LoadOptions(snapshot, allow_deletes, max_delete_share)
    for file in expand_paths(path):
        report = load_file(ws, file, into, resolved, options=load)
        console.print(report.summary(), highlight=False)
        if report.quarantined:
            console.print(
                f"  {report.quarantined} row(s) quarantined: `vitalsign quarantine list "
                f"--source {report.path}`",
                highlight=False,
                markup=False,
            )


def sync(workspace: WorkspaceOption = Path(".")) -> None:
    """Ingest every source declared in vitalsign.yml incrementally; print a summary."""
    from vitalsign.ingest.sync import sync_workspace
    from vitalsign.store.workspace import open_workspace

    report = sync_workspace(open_workspace(workspace), show_progress=True)
    columns = ("read", "inserted", "updated", "unchanged", "quarantined", "deleted")
    table = Table("source", "table", *columns, "status")
    for r in report.results:
        status = "ok" if r.ok else f"error: {r.error}"
        table.add_row(r.source, r.table, *(str(getattr(r, c)) for c in columns), status)
    console.print(table)
    if report.billing is not None:
        console.print(report.billing.summary(), highlight=False)
    if report.billing_error is not None:
        console.print(f"Billing derivation failed (nothing changed): {report.billing_error}")
    if not report.results:
        console.print("No sources declared: add `sources:` to vitalsign.yml (docs/connectors.md)")
    if not report.ok:
        raise typer.Exit(1)


@quarantine_app.command("list")
def quarantine_list(
    source: Annotated[str | None, typer.Option(help="Only rows of this source.")] = None,
    table: Annotated[str | None, typer.Option(help="Only rows for this table.")] = None,
    status: Annotated[str, typer.Option(help="pending, loaded, duplicate or all.")] = "pending",
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """List quarantined rows, newest first, with their reasons."""
    from vitalsign.ingest.quarantine import count_quarantine, list_quarantine
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    rows = list_quarantine(ws, source, table, None if status == "all" else status, limit)
    out = Table("id", "table", "source", "line", "status", "reason")
    for r in rows:
        out.add_row(str(r.quarantine_id), r.table, r.source, str(r.line or ""), r.status, r.reason)
    console.print(out)
    counts = count_quarantine(ws, source, table)
    empty = "No quarantined rows match" if source or table else "Quarantine is empty"
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or empty)


@quarantine_app.command("show")
def quarantine_show(
    quarantine_id: Annotated[int, typer.Argument(help="Id from `quarantine list`.")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Show one quarantined row: source, line, reason and raw values."""
    from vitalsign.ingest.quarantine import show_quarantined
    from vitalsign.store.workspace import open_workspace

    row = show_quarantined(open_workspace(workspace), quarantine_id)
    typer.echo(json.dumps(row.__dict__, indent=2, default=str, ensure_ascii=False))


@quarantine_app.command("retry")
def quarantine_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids to retry (default: all).")] = None,
    source: Annotated[str | None, typer.Option(help="Only rows of this source.")] = None,
    table: Annotated[str | None, typer.Option(help="Only rows for this table.")] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Retry pending rows with their mapping (e.g. after loading the missing accounts)."""
    from vitalsign.ingest.quarantine import retry_quarantine
    from vitalsign.store.workspace import open_workspace

    reports = retry_quarantine(open_workspace(workspace), ids or None, source, table)
    for report in reports:
        console.print(
            f"{report.path} → {report.table}: retried {report.read}, inserted "
            f"{report.inserted}, updated {report.updated}, unchanged {report.unchanged}, "
            f"still quarantined {report.quarantined}",
            highlight=False,
        )
    if not reports:
        console.print("Nothing to retry")


def ingest_key(
    rotate: Annotated[
        bool, typer.Option(help="Make a new key; the old one stops working.")
    ] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Show (creating it if needed) or rotate the write key of the HTTP event API."""
    from vitalsign.ingest.write_keys import ensure_write_key
    from vitalsign.store.workspace import open_workspace

    typer.echo(ensure_write_key(open_workspace(workspace).duckdb, rotate=rotate))


def register(app: typer.Typer) -> None:
    """Add the ingestion commands to the `vitalsign` app."""
    app.command()(ingest)
    app.command()(sync)
    app.command("ingest-key")(ingest_key)
    app.add_typer(quarantine_app, name="quarantine")
