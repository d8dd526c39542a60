"""Options and helpers shared by the alerts part's commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from vitalsign.errors import VitalsignError

console = Console()
WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Model file (default: the workspace's).")
]
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]
ActorOption = Annotated[str, typer.Option("--by", help="Who does it (kept in the audit trail).")]


def parse_duration(text: str, option: str) -> float:
    """Return the seconds of an option's duration text such as "10m"."""
    from vitalsign.alerts.config import parse_seconds

    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise VitalsignError(f"{option} {exc}") from exc


def check_format(value: str) -> str:
    """Return --format's value when it is text or json."""
    if value not in ("text", "json"):
        raise VitalsignError(f"--format {value!r}: use text or json")
    return value


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON."""
    typer.echo(json.dumps(data, indent=2, default=str))


def open_context(workspace: Path, model: str | None) -> tuple[Any, Any, Any]:
    """Open the workspace, load the model and alerts.yml."""
    from vitalsign.alerts.loading import ALERTS_FILE, load_alert_config
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    loaded = ws.load_model(model)
    config = load_alert_config(ws.root / ALERTS_FILE, loaded.spec).config
    return ws, loaded, config
