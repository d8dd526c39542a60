"""The `vitalsign` command: a thin shell over the Python API."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vitalsign.cli_values import parse_date, parse_days_option
from vitalsign.errors import VitalsignError

app = typer.Typer(
    help="Explainable customer-health scoring. Docs: docs/ in the repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Model file (default: the workspace's).")
]


@app.command()
def init(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder to create, relative to the current folder; files already there are kept."
        ),
    ],
) -> None:
    """Create a workspace: config, starter model and the canonical tables.

    On an existing workspace nothing is overwritten: it says what it kept.
    """
    from vitalsign.store.output_paths import check_workspace_folder
    from vitalsign.store.workspace import existing_parts, init_workspace

    folder = check_workspace_folder(directory, "DIRECTORY")
    kept = existing_parts(folder)
    workspace = init_workspace(folder)
    parts = {
        "config": workspace.root / "vitalsign.yml",
        "model": workspace.root / "models" / "default.yml",
        "data": workspace.database_path,
    }
    if len(kept) == len(parts):
        headline = f"Kept the existing workspace {workspace.root}: nothing was overwritten"
    elif kept:
        headline = f"Completed workspace {workspace.root}: kept {', '.join(kept)}"
    else:
        headline = f"Created workspace {workspace.root}"
    console.print(headline, highlight=False, soft_wrap=True)
    row = workspace.duckdb.execute("SELECT count(*) FROM accounts").fetchone()
    accounts = int(row[0]) if row else 0
    notes = {
        "config": "",
        "model": " (as it was: edits stay)",
        "data": f" ({accounts} accounts)",
    }
    for part, path in parts.items():
        state = f"kept{notes[part]}" if part in kept else "created"
        console.print(f"  {part:<7} {path}  {state}", highlight=False, soft_wrap=True)


@app.command()
def check(
    model: Annotated[Path | None, typer.Argument(help="Model file to validate.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Profile the data as of this date (default: its end)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Validate a model file, then profile it against the workspace's data (when loaded).

    The profile scores every account once (nothing stored): per signal how many accounts have
    a value, empty tables, a gate failing or a flag raised for every account, and scales
    whose range misses the data. Exits 1 on an error (e.g. a gate every account fails).
    """
    from vitalsign.engine.profile import profile_workspace
    from vitalsign.engine.profile_report import profile_renderable
    from vitalsign.model.loader import load_model
    from vitalsign.store.workspace import CONFIG_FILE, open_workspace

    profile = None
    alone = model is not None and not (workspace / CONFIG_FILE).exists()
    if alone and model is not None:
        loaded = load_model(model)  # a model file alone, without a workspace's custom fields
    else:
        ws = open_workspace(workspace)
        loaded = ws.load_model(model)
        profile = profile_workspace(ws, loaded.spec, parse_date(as_of, "--as-of"))
    valid = (
        f"{loaded.path}: model {loaded.name!r} is valid (hash {loaded.hash}, "
        f"{len(loaded.spec.signals)} signals)"
    )
    if json_:
        payload = {
            "path": str(loaded.path),
            "model": loaded.name,
            "hash": loaded.hash,
            "valid": True,
            "profile": None if profile is None else profile.to_dict(),
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        console.print(valid)
        if alone:
            console.print("No workspace here: pass -w DIR to profile the model against its data.")
        elif profile is None:
            console.print("No accounts loaded: the model is not profiled against data.")
        else:
            console.print(profile_renderable(profile))
    if profile is not None and profile.errors:
        raise typer.Exit(1)


@app.command()
def score(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date (default today).")] = None,
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Score every account as of a date and store the snapshot (replacing that date's)."""
    from vitalsign.engine.run import score as run_score
    from vitalsign.engine.unscored import unscored_accounts
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    loaded = ws.load_model(model)
    day = parse_date(as_of, "--as-of") or dt.date.today()
    scored = run_score(ws, day, loaded)
    counts = scored.scores["band"].value_counts().to_dict()
    console.print(
        f"Scored {len(scored.scores)} accounts as of {day} with {loaded.name} "
        f"({loaded.hash}): {counts}"
    )
    for line in unscored_accounts(ws.duckdb, day).lines():
        console.print(line, highlight=False)
    _print_stale(ws.duckdb, loaded.name, [day])
    passed = scored.scores["gate_pass"].astype(bool)
    if loaded.spec.gate is not None and len(passed) and not passed.any():
        console.print(
            f"[yellow]warning:[/] the gate {loaded.spec.gate.when!r} failed for every account: "
            "all score 0. `vitalsign check` says why (e.g. an empty table).",
            highlight=False,
        )


def _print_stale(connection: object, model_name: str, dates: list[dt.date]) -> None:
    """One line per table that was stale or empty on these dates (docs/model.md, Freshness)."""
    from vitalsign.store.freshness import stale_lines

    for line in stale_lines(connection, model_name, dates):
        label, _, rest = line.partition(" ")
        console.print(f"[yellow]{label}[/] {rest}", highlight=False)


@app.command()
def backfill(
    from_: Annotated[str, typer.Option("--from", help="First date.")],
    to: Annotated[str, typer.Option("--to", help="Last date (included).")],
    every: Annotated[str, typer.Option("--every", help="Step, e.g. 7d or 1w.")] = "7d",
    new_only: Annotated[
        bool,
        typer.Option(
            "--new-only",
            help="Score only the dates without a snapshot of this model version (a weekly "
            "job extending the history).",
        ),
    ] = False,
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Fill the score history for many dates, reading each table once for all of them."""
    from vitalsign.engine.run import backfill as run_backfill
    from vitalsign.engine.run import date_range
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    start, end = parse_date(from_, "--from"), parse_date(to, "--to")
    assert start is not None and end is not None
    loaded = ws.load_model(model)
    dates = run_backfill(
        ws, date_range(start, end, parse_days_option(every, "--every")), loaded, new_only=new_only
    )
    if not dates:
        console.print(f"Nothing to score: every date has a snapshot of model {loaded.name!r}")
        return
    console.print(f"Stored {len(dates)} snapshots from {dates[0]} to {dates[-1]}")
    _print_stale(ws.duckdb, loaded.name, dates)


@app.command()
def explain(
    account: Annotated[str, typer.Argument(help="Account id.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Snapshot date.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Compare with this date.")] = None,
    format_: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    json_: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Explain an account's score: what each signal and group loses, largest first; the gate
    and flags with their values; what it would take to reach the next band; what changed
    since a date."""
    from vitalsign.engine.why import why_account
    from vitalsign.rendering import why_renderable
    from vitalsign.store.workspace import open_workspace

    if format_ not in ("text", "json"):
        raise VitalsignError(f"--format {format_!r}: use text or json")
    ws = open_workspace(workspace)
    result = why_account(
        ws.duckdb,
        ws.load_model(model),
        account,
        parse_date(as_of, "--as-of"),
        parse_date(since, "--since"),
    )
    if json_ or format_ == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        console.print(why_renderable(result))


@app.command()
def report(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Snapshot date.")] = None,
    format_: Annotated[str, typer.Option("--format", help="text, json or csv.")] = "text",
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Portfolio report: bands by count and ARR, by segment and owner, movers."""
    from vitalsign.analytics.portfolio import portfolio_report
    from vitalsign.rendering import report_renderable
    from vitalsign.store.workspace import open_workspace

    if format_ not in ("text", "json", "csv"):
        raise VitalsignError(f"--format {format_!r}: use text, json or csv")
    ws = open_workspace(workspace)
    result = portfolio_report(ws.duckdb, ws.load_model(model).spec, parse_date(as_of, "--as-of"))
    if format_ == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
    elif format_ == "csv":
        typer.echo(result.to_csv_frame().to_csv(index=False), nl=False)
    else:
        console.print(report_renderable(result))


@app.command()
def demo(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder for the demo workspace, relative to the current folder; an earlier "
            "demo there is replaced."
        ),
    ] = Path("demo-workspace"),
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    weeks: Annotated[int, typer.Option(help="Weeks of history to backfill.")] = 52,
    force: Annotated[
        bool,
        typer.Option("--force", help="Delete and rebuild a workspace that is not an earlier demo."),
    ] = False,
) -> None:
    """Build a demo workspace from a generated B2B SaaS world, backfill it, and report."""
    from vitalsign.demo.build import build_demo
    from vitalsign.store.output_paths import check_workspace_folder, mark_demo

    folder = check_workspace_folder(directory, "DIRECTORY", replace=True, force=force)
    build_demo(folder, accounts=accounts, seed=seed, weeks=weeks, console=console)
    mark_demo(folder)


def _piped_secret(prompt: str = "Password: ", stream: object = None) -> str:
    """A hidden prompt's answer read from a pipe: the prompt on a line of its own, no warnings.

    getpass would warn that it cannot hide input and run the prompts together on one line.
    """
    sys.stdout.write(prompt.rstrip() + "\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError  # click answers it with "Aborted!"
    return line.rstrip("\r\n")


def main() -> None:
    """Run the CLI; a VitalsignError becomes one line on stderr and exit code 1.

    While `vitalsign serve` holds the workspace, the command runs in the server instead
    (web/relay.py; docs/workspace.md).
    """
    from vitalsign.web.relay import NOT_RELAYED, forward_if_served

    if sys.stdin is not None and not sys.stdin.isatty():
        import getpass

        getpass.getpass = _piped_secret  # hidden prompts fed by a pipe: `printf 'pw\npw\n' | …`
    relayed = forward_if_served(sys.argv[1:])
    if relayed is not None:
        sys.exit(relayed)
    if sys.argv[1:2] and sys.argv[1] in NOT_RELAYED and "--help" not in sys.argv:
        from vitalsign.store.workspace import EXCLUSIVE_COMMAND  # heavy: only for these

        EXCLUSIVE_COMMAND.set(sys.argv[1])  # its lock error says: stop the server first
    try:
        app()
    except VitalsignError as exc:
        Console(stderr=True).print(
            f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True
        )
        sys.exit(1)


# Each part registers its own commands: one `register(app)` call per part, below.
from vitalsign.alerts import commands as alerts_commands  # noqa: E402

alerts_commands.register(app)

from vitalsign.ingest import commands as ingest_commands  # noqa: E402

ingest_commands.register(app)

from vitalsign.ingest import billing_commands  # noqa: E402

billing_commands.register(app)

from vitalsign.analytics import commands as analytics_commands  # noqa: E402

analytics_commands.register(app)

from vitalsign.analytics import review_commands  # noqa: E402

review_commands.register(app)

from vitalsign.web import commands as web_commands  # noqa: E402

web_commands.register(app)

from vitalsign.engine import commands as engine_commands  # noqa: E402

engine_commands.register(app)

from vitalsign.store import model_commands  # noqa: E402

model_commands.register(app)
