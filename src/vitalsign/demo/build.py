"""`vitalsign demo`: generate a world, load it, backfill a year, report and explain."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from vitalsign.analytics.portfolio import portfolio_report
from vitalsign.demo.world import generate_world, write_world
from vitalsign.engine.run import backfill
from vitalsign.engine.why import why_account
from vitalsign.errors import WorkspaceError
from vitalsign.rendering import report_renderable, why_renderable
from vitalsign.store.workspace import CONFIG_FILE, ensure_not_open, init_workspace


def riskiest_account(connection: object, model_name: str, as_of: dt.date) -> str:
    """Return the lowest-scored account with enough data, the largest ARR first on ties."""
    row = connection.execute(  # type: ignore[attr-defined]
        "SELECT account_id FROM scores WHERE model_name = ? AND snapshot_date = ? "
        "AND score IS NOT NULL AND band <> 'insufficient_data' "
        "ORDER BY score ASC, arr DESC NULLS LAST, account_id LIMIT 1",
        [model_name, as_of],
    ).fetchone()
    if row is None:
        raise WorkspaceError("the demo produced no scored account")
    return str(row[0])


def since_date(dates: list[dt.date], weeks: int = 4) -> dt.date | None:
    """Return the snapshot `weeks` back from the last (the earliest one if fewer), or None."""
    if len(dates) < 2:
        return None
    return dates[max(0, len(dates) - 1 - weeks)]


def _command() -> str:
    """Return how to call `vitalsign` from here: plain if on PATH, else the venv's script."""
    if shutil.which("vitalsign"):
        return "vitalsign"
    script = Path(sys.executable).parent / "vitalsign"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def build_demo(
    directory: Path,
    accounts: int = 3000,
    seed: int = 7,
    weeks: int = 52,
    console: Console | None = None,
) -> Path:
    """Build the demo workspace in `directory` (replacing an earlier demo) and print the results."""
    console = console or Console()
    if weeks < 1:
        raise WorkspaceError(f"--weeks {weeks}: give at least 1 week of history to backfill")
    if directory.exists():
        if not (directory / CONFIG_FILE).exists() and any(directory.iterdir()):
            raise WorkspaceError(
                f"{directory} exists and is not a vitalsign workspace; pick another folder"
            )
        ensure_not_open(directory)  # a served or open workspace is never deleted under it
        shutil.rmtree(directory)
    workspace = init_workspace(directory)
    with console.status(f"Generating a world of {accounts} accounts (seed {seed})"):
        world = generate_world(accounts=accounts, seed=seed)
    with Progress(console=console) as progress:
        task = progress.add_task("Loading tables", total=len(world.tables))
        counts = write_world(world, workspace.duckdb, on_table=lambda _: progress.advance(task))
    console.print("Loaded " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    model = workspace.load_model()
    last = world.end - dt.timedelta(days=world.end.weekday())  # the last Monday
    dates = [last - dt.timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    backfill(workspace, dates, model)
    report = portfolio_report(workspace.duckdb, model.spec, dates[-1])
    console.rule("Portfolio")
    console.print(report_renderable(report))
    account = riskiest_account(workspace.duckdb, model.name, dates[-1])
    console.rule(f"Riskiest account: {account}")
    since = since_date(dates)
    why = why_account(workspace.duckdb, model, account, dates[-1], since)  # as `explain` does
    console.print(why_renderable(why))
    root = workspace.root
    console.rule("Where to look")
    console.print(
        f"Workspace: {root}\n  model     {workspace.model_path}\n"
        f"  database  {workspace.database_path}"
    )
    command = _command()
    since_option = f" --since {since}" if since else ""
    console.print(
        f"Try:\n  {command} --help\n  {command} report -w {root}\n"
        f"  {command} explain {account} -w {root}{since_option}\n"
        f"  {command} backtest --html backtest.html -w {root}\n"
        f"  {command} users add NAME --role admin -w {root}   (then sign in with it)\n"
        f"  {command} serve -w {root}",
        soft_wrap=True,  # whole command lines, to copy, whatever the width
    )
    workspace.close()
    return root
