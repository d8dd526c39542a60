"""`vitalsign override` and `vitalsign overrides`: record, list and revoke overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vitalsign.alerts.cli_options import (
    WorkspaceOption,
    console,
)
from vitalsign.cli_values import parse_date
from vitalsign.errors import VitalsignError


def _override_table(frame: Any) -> Table:
    table = Table(title=f"Overrides ({len(frame)})", title_justify="left")
    for column in ("id", "account", "target", "value", "state", "until", "by", "reason"):
        table.add_column(column)
    for row in frame.itertuples(index=False):
        until = row.expires_at
        table.add_row(
            str(row.override_id),
            str(row.account_id),
            str(row.target),
            str(row.value),
            str(row.state),
            "" if until is None or until != until else f"{until:%Y-%m-%d}",
            str(row.author),
            str(row.reason),
        )
    return table


def overrides(
    account: Annotated[str | None, typer.Argument(help="Only this account.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include expired and revoked.")] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """List the overrides in force (or all of them), with who set them, why and until when."""
    from vitalsign.alerts.overrides import list_overrides
    from vitalsign.store.workspace import open_workspace

    frame = list_overrides(open_workspace(workspace).duckdb, account, include_inactive=all_)
    console.print(_override_table(frame))


def override(
    account: Annotated[str | None, typer.Argument(help="Account id.")] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the audit trail).")
    ] = None,
    band: Annotated[str | None, typer.Option("--band", help="Band to show instead.")] = None,
    signal: Annotated[str | None, typer.Option("--signal", help="Manual signal name.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Value of the signal.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Expiry date.")] = None,
    author: Annotated[str, typer.Option("--by", help="Who overrides.")] = "cli",
    list_: Annotated[bool, typer.Option("--list", help="List overrides in force.")] = False,
    revoke: Annotated[
        str | None, typer.Option("--revoke", help="End the override with this id.")
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Override a band or manual signal at once, with reason and expiry; list or revoke."""
    from vitalsign.engine.rescore import record_override, revoke_and_rescore
    from vitalsign.store.workspace import open_workspace

    if list_:
        overrides(account, False, workspace)
        return
    ws = open_workspace(workspace)
    if revoke is not None:
        done = revoke_and_rescore(ws.backend, ws.load_model(), revoke, author, reason or "")
        after = done.line() if done else "the next scoring run uses the computed value"
        console.print(f"Override {revoke} revoked; {after}", highlight=False, soft_wrap=True)
        return
    if account is None:
        raise VitalsignError("give the ACCOUNT to override (or --list, or --revoke ID)")
    loaded = ws.load_model()
    spec = loaded.spec
    if (band is None) == (signal is None):
        raise VitalsignError("give either --band BAND or --signal NAME --value VALUE")
    if band is not None and band not in spec.band_names:
        raise VitalsignError(f"--band {band!r}: use one of {', '.join(spec.band_names)}")
    if signal is not None and (signal not in spec.overrides.signals or value is None):
        raise VitalsignError(
            f"--signal {signal!r}: overridable signals are {spec.overrides.signals}; give --value"
        )
    expiry = parse_date(until, "--until")
    expires = dt.datetime.combine(expiry, dt.time()) if expiry else None
    oid, done = record_override(
        ws.backend,
        loaded,
        account,
        "band" if band else str(signal),
        str(band or value),
        reason or "",
        author,
        expires,
    )
    after = done.line() if done else "it applies from the next scoring run"
    console.print(
        f"Override {oid} recorded for {account}; {after}", highlight=False, soft_wrap=True
    )
