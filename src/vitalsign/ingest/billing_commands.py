"""CLI command of the billing rule: derive-outcomes (it also runs at the end of `sync`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vitalsign.errors import VitalsignError

console = Console(soft_wrap=True)
WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]


def _moment(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise VitalsignError(
            f"--as-of {text!r} is not a date or time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from exc


def derive_outcomes(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Derive as of this time (default: the data's observed end), e.g. 2025-01-31.",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Derive churn, renewals and reactivations from subscriptions; set accounts.churned_at."""
    from vitalsign.ingest.billing import derive_billing
    from vitalsign.store.workspace import open_workspace

    report = derive_billing(open_workspace(workspace), _moment(as_of))
    if json_:
        console.print_json(json.dumps(report.to_dict()))
        return
    console.print(report.summary())


def register(app: typer.Typer) -> None:
    """Add derive-outcomes to the CLI."""
    app.command("derive-outcomes")(derive_outcomes)
