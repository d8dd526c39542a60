"""CLI commands of the model history: `vitalsign model activate` and `vitalsign model history`."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vitalsign.errors import VitalsignError

console = Console(highlight=False)
model_app = typer.Typer(
    help="The workspace's model: activate a file or an earlier version; its history.",
    no_args_is_help=True,
)
WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]


@model_app.command("activate")
def activate(
    file: Annotated[
        Path | None, typer.Argument(help="The model file to activate (it must pass `check`).")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="Activate this earlier version instead.")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who activates it (audit); default: you.")
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Make FILE (or --version N) the workspace's model: the file is replaced, audited, kept.

    The model file vitalsign.yml names is replaced atomically; the next scoring run uses it.
    The file in place before is kept as a version, so `--version` brings it back.
    """
    from vitalsign.store.model_history import activate_model, reactivate_version
    from vitalsign.store.workspace import open_workspace

    if (file is None) == (version is None):
        raise VitalsignError("give a model FILE or --version N (one of them)")
    actor = by or f"cli:{getpass.getuser()}"
    ws = open_workspace(workspace)
    try:
        if version is not None:
            made = reactivate_version(ws, ws.duckdb, version, actor)
        else:
            assert file is not None
            if not file.is_file():
                raise VitalsignError(f"{file}: no such model file")
            text = file.read_text(encoding="utf-8")
            made = activate_model(ws, ws.duckdb, text, actor, str(file))
        console.print(
            f"activated {made.model_name} ({made.model_hash}) as version {made.version} in "
            f"{ws.model_path}; the next scoring run uses it (`vitalsign model history`)"
        )
    finally:
        ws.close()


@model_app.command("history")
def history(
    workspace: WorkspaceOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """List every model version activated: who, when and from which file, newest first."""
    from vitalsign.store.model_history import active_version, model_versions
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    try:
        versions = model_versions(ws.duckdb)
        current = active_version(ws.duckdb, ws)
    finally:
        ws.close()
    if as_json:
        keep = ("version", "model_name", "model_hash", "source", "activated_by")
        rows = [
            {k: getattr(v, k) for k in keep}
            | {"activated_at": v.activated_at.isoformat(), "active": v == current}
            for v in versions
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not versions:
        console.print("no model activated yet: `vitalsign model activate FILE` records one")
        return
    table = Table("version", "model", "hash", "activated by", "at (UTC)", "from")
    for v in versions:
        mark = " (active)" if v == current else ""
        who = v.activated_by or "in place before any activation"
        when = v.activated_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(f"{v.version}{mark}", v.model_name, v.model_hash, who, when, v.source)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the `model` group to the CLI."""
    app.add_typer(model_app, name="model")
