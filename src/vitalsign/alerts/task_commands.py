"""`vitalsign tasks`: list, update and close the tasks playbooks open."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vitalsign.alerts.cli_options import (
    ActorOption,
    FormatOption,
    WorkspaceOption,
    check_format,
    console,
    echo_json,
)
from vitalsign.cli_values import parse_date

tasks_app = typer.Typer(
    help="Tasks: list them (no subcommand), add one by hand, update or close them.",
    invoke_without_command=True,
)


@tasks_app.callback()
def tasks_list(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="Account id.")] = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="Who it is assigned to.")
    ] = None,
    status: Annotated[
        str, typer.Option("--status", help="active, open, in_progress, closed or all.")
    ] = "active",
    limit: Annotated[int, typer.Option("--limit", help="Page size.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.")] = 0,
    format_: FormatOption = "text",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """List tasks, soonest due first (subcommands update and close change them)."""
    from vitalsign.alerts.tasks import is_overdue, list_tasks, tasks_today
    from vitalsign.store.workspace import open_workspace

    if ctx.invoked_subcommand is not None:
        return
    check_format(format_)
    connection = open_workspace(workspace).duckdb
    page = list_tasks(
        connection,
        account_id=account,
        assignee=assignee,
        status=None if status == "all" else status,
        limit=limit,
        offset=offset,
    )
    if format_ == "json":
        echo_json({"total": page.total, "items": [t.to_dict() for t in page.items]})
        return
    table = Table(title=f"Tasks ({len(page.items)} of {page.total})", title_justify="left")
    for column in ("task", "account", "title", "assignee", "due", "status", "outcome", "from"):
        table.add_column(column)
    today = tasks_today(connection)
    for t in page.items:
        late = is_overdue(t.due_date, t.status, today)
        table.add_row(
            t.task_id,
            t.account_id,
            t.title,
            t.assignee or "",
            f"{t.due_date}{' (overdue)' if late else ''}",
            t.status,
            t.outcome or "",
            f"{t.alert_rule} alert"
            if t.alert_rule
            else ("by hand" if t.playbook == "manual" else ""),
        )
    console.print(table)
    if page.items:
        console.print(f"Overdue: due before {today}, the latest snapshot date.", highlight=False)


@tasks_app.command("update")
def tasks_update(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    status: Annotated[str | None, typer.Option("--status", help="open or in_progress.")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="New assignee.")] = None,
    due: Annotated[str | None, typer.Option("--due", help="New due date.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note.")] = None,
    by: ActorOption = "cli",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Change a task's status, assignee, due date or note (audited)."""
    from vitalsign.alerts.tasks import past_due_warning, tasks_today, update_task
    from vitalsign.store.workspace import open_workspace

    connection = open_workspace(workspace).duckdb
    due_date = parse_date(due, "--due")
    task = update_task(
        connection,
        task_id,
        by,
        status=status,
        assignee=assignee,
        due_date=due_date,
        note=note,
    )
    console.print(f"Task {task.task_id}: {task.status}, {task.assignee}, due {task.due_date}")
    _warn_past_due(past_due_warning(due_date, tasks_today(connection)))


@tasks_app.command("close")
def tasks_close(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    outcome: Annotated[str, typer.Option("--outcome", help="What happened.")],
    by: ActorOption = "cli",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Close a task by hand with its outcome (audited)."""
    from vitalsign.alerts.tasks import close_task
    from vitalsign.store.workspace import open_workspace

    task = close_task(open_workspace(workspace).duckdb, task_id, by, outcome)
    console.print(f"Task {task.task_id} closed: {task.outcome}")


@tasks_app.command("add")
def tasks_add(
    account: Annotated[str, typer.Argument(help="Account id.")],
    title: Annotated[str, typer.Option("--title", help="What to do.")],
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="Who does it (default: the owner).")
    ] = None,
    due: Annotated[str | None, typer.Option("--due", help="Due date (YYYY-MM-DD).")] = None,
    step: Annotated[
        list[str] | None, typer.Option("--step", help="A step; repeat for several.")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note.")] = None,
    by: ActorOption = "cli",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Create a task by hand on an account (audited)."""
    from vitalsign.alerts.tasks import create_task, past_due_warning, tasks_today
    from vitalsign.store.workspace import open_workspace

    connection = open_workspace(workspace).duckdb
    due_date = parse_date(due, "--due")
    task = create_task(
        connection,
        account,
        by,
        title,
        assignee=assignee,
        due_date=due_date,
        steps=step or [],
        note=note,
    )
    console.print(
        f"Task {task.task_id} on {task.account_id}: {task.title}, {task.assignee}, "
        f"due {task.due_date or 'not set'}"
    )
    _warn_past_due(past_due_warning(due_date, tasks_today(connection)))


def _warn_past_due(warning: str | None) -> None:
    """Print a past due date's warning on stderr (the task is saved all the same)."""
    if warning is not None:
        typer.echo(warning, err=True)
