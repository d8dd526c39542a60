"""`vitalsign outcomes`: show the outcomes a backtest uses, or derive and store them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vitalsign.analytics.cli_options import (
    JsonOption,
    UntilOption,
    WorkspaceOption,
    emit_json,
    print_data_end,
    until_moment,
)
from vitalsign.cli_values import parse_days_option

console = Console()


def outcomes(
    derive: Annotated[
        bool, typer.Option("--derive", help="Derive outcomes from subscriptions.")
    ] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Store the derived outcomes in the outcomes table.")
    ] = False,
    grace: Annotated[
        str,
        typer.Option("--grace", help="Gap between subscriptions that still counts as a renewal."),
    ] = "30d",
    until: UntilOption = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Show the outcomes a backtest uses, or derive them from subscriptions (and store them)."""
    import pandas as pd

    from vitalsign.analytics.outcomes import (
        derive_outcomes,
        pending_churns,
        read_outcomes,
        write_outcomes,
    )
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    end = until_moment(until)
    grace_days = parse_days_option(grace, "--grace")
    stop = print_data_end(ws.duckdb, until, json_)
    if derive or write:
        frame = derive_outcomes(ws.duckdb, stop, grace_days)
        source = "derived from subscriptions"
        pending = len(pending_churns(ws.duckdb, stop, grace_days))
    else:
        result = read_outcomes(ws.duckdb, end, grace_days)
        frame, source, pending = result.frame, result.source, len(result.pending)
    counts = {str(k): int(v) for k, v in frame["kind"].value_counts().items()}
    stored = write_outcomes(ws.duckdb, frame) if write else 0
    if json_:
        emit_json(
            {
                "source": source,
                "data_end": pd.Timestamp(stop).isoformat(),
                "counts": counts,
                "pending": pending,
                "written": stored,
            }
        )
        return
    shown = ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"
    console.print(f"Outcomes ({source}): {shown}")
    if pending:
        console.print(
            f"{pending} tenure{'s' if pending != 1 else ''} ended less than {grace_days} days "
            f"before {pd.Timestamp(stop):%Y-%m-%d}: not counted as churn yet (a backtest leaves "
            "out the snapshots whose horizon reaches them as too recent)"
        )
    if write:
        console.print(f"Stored {stored} new rows in the outcomes table")
