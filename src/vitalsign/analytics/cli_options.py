"""Options and argument parsing shared by the analytics commands (backtest, calibrate, ...)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from vitalsign.cli_values import parse_date, parse_days_option
from vitalsign.errors import VitalsignError

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Model file (default: the workspace's).")
]
HorizonOption = Annotated[
    str, typer.Option("--horizon", help="Churn within this long after a snapshot, e.g. 90d.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
FromOption = Annotated[str | None, typer.Option("--from", help="First date to score.")]
ToOption = Annotated[str | None, typer.Option("--to", help="Last date to score (included).")]
EveryOption = Annotated[str, typer.Option("--every", help="Step between dates, e.g. 7d.")]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="End of the observed data (default: the latest event, ticket, invoice or "
        "subscription start; never a scheduled period end).",
    ),
]
BootstrapOption = Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Bootstrap random seed.")]


def until_moment(text: str | None) -> dt.datetime | None:
    """Read --until as the midnight starting that day, refusing a day after today."""
    day = parse_date(text, "--until")
    if day is not None and day > dt.date.today():
        raise VitalsignError(
            f"--until {day} is in the future: the data cannot end after today, and every "
            "period scheduled to end before it would count as a churn; pass the day your "
            "data ends (or leave --until out to take it from the data)"
        )
    return None if day is None else dt.datetime.combine(day, dt.time())


def date_list(start: str | None, end: str | None, every: str) -> list[dt.date] | None:
    """The dates of --from/--to/--every, or None when neither is given."""
    from vitalsign.engine.run import date_range

    if start is None and end is None:
        return None
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if first is None or last is None:
        raise VitalsignError("give both --from and --to (and optionally --every)")
    return date_range(first, last, parse_days_option(every, "--every"))


def share_pairs(items: list[str] | None, option: str) -> dict[str, float]:
    """Read BAND=SHARE options (0.1 or 10%)."""
    pairs: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        text = value.strip()
        try:
            number = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        except ValueError:
            number = -1.0
        if not sep or not 0 <= number <= 1:
            raise VitalsignError(f"{option} {item!r}: use BAND=SHARE, e.g. red=0.1 or red=10%")
        pairs[name.strip()] = number
    return pairs


def emit_json(payload: dict[str, Any]) -> None:
    """Print a command's result as JSON for machines."""
    typer.echo(json.dumps(payload, indent=2, default=str))


def print_data_end(connection: Any, until: str | None, quiet: bool = False) -> Any:
    """Print (on stderr) where the data ends and warn when the tables disagree; return it.

    With `quiet` (--json) only the warning is printed.
    """
    import pandas as pd

    from vitalsign.store.data_end import data_end

    err = Console(stderr=True)
    given = until_moment(until)
    if given is not None:
        if not quiet:
            err.print(f"Data ends {given:%Y-%m-%d %H:%M} (--until)", highlight=False)
        _warn_late_until(connection, pd.Timestamp(given), err)
        return pd.Timestamp(given)
    found = data_end(connection)
    if not quiet:
        err.print(found.summary(), highlight=False, soft_wrap=True)
    if found.warning:
        err.print(f"[bold red]Warning:[/] {found.warning}", highlight=False, soft_wrap=True)
    return found.at


def _warn_late_until(connection: Any, given: Any, err: Console) -> None:
    """Warn (on stderr) when --until is after the end the data itself shows."""
    from vitalsign.analytics.horizon import late_until_warning, until_past_end
    from vitalsign.errors import BacktestError
    from vitalsign.store.data_end import data_end

    try:
        detected = data_end(connection).at
    except BacktestError:  # no data yet: the command says so itself
        return
    if until_past_end(given, detected):
        warning = late_until_warning(given, detected)
        err.print(f"[bold red]Warning:[/] {warning}", highlight=False, soft_wrap=True)
