"""CLI commands of the alerts part: `vitalsign alerts ...`; `register` adds them all."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vitalsign.alerts.cli_options import (
    ActorOption,
    FormatOption,
    ModelOption,
    WorkspaceOption,
    check_format,
    console,
    echo_json,
    open_context,
)
from vitalsign.alerts.delivery_commands import alerts_deliver, alerts_digest, alerts_outbox
from vitalsign.cli_values import parse_date
from vitalsign.errors import VitalsignError

alerts_app = typer.Typer(
    help="Alert rules (alerts.yml): evaluate, list, acknowledge, rate, stats, outbox.",
    no_args_is_help=True,
)


@alerts_app.command("init")
def alerts_init(workspace: WorkspaceOption = Path(".")) -> None:
    """Write a starter alerts.yml into the workspace (kept if one exists)."""
    from importlib import resources

    from vitalsign.alerts.loading import ALERTS_FILE
    from vitalsign.store.workspace import open_workspace

    target = open_workspace(workspace).root / ALERTS_FILE
    if target.exists():
        raise VitalsignError(f"{target} exists; edit it, then run `vitalsign alerts check`")
    text = resources.files("vitalsign.alerts").joinpath("starter_alerts.yml").read_text("utf-8")
    target.write_text(text, encoding="utf-8")
    console.print(f"Wrote {target}")


@alerts_app.command("check")
def alerts_check(model: ModelOption = None, workspace: WorkspaceOption = Path(".")) -> None:
    """Validate alerts.yml against the model; print every problem with file and line."""
    from vitalsign.alerts.messages import plural

    _, loaded, config = open_context(workspace, model)
    console.print(
        f"alerts.yml is valid: {plural(len(config.rules), 'rule')}, channels "
        f"{', '.join(config.channels.names) or 'none'}, model {loaded.name!r}"
    )


@alerts_app.command("evaluate")
def alerts_evaluate(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Snapshot date (default latest).")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Replay snapshots from this date.")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Replay up to this date.")] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Record alerts, queue no messages.")
    ] = False,
    model: ModelOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Evaluate the rules on a snapshot (or replay a range) and queue the messages."""
    from vitalsign.alerts.evaluation import evaluate_alerts, evaluate_history
    from vitalsign.alerts.messages import plural

    ws, loaded, config = open_context(workspace, model)
    if from_ is not None or to is not None:
        start = parse_date(from_, "--from") or dt.date.min
        end = parse_date(to, "--to") or dt.date.max
        reports = evaluate_history(ws.duckdb, config, loaded, start, end, notify=not quiet)
        for report in reports:
            console.print(report.line(), highlight=False)
        replayed = f"Replayed {plural(len(reports), 'snapshot')}"
        if not reports:
            replayed += ": " + nothing_replayed(ws.duckdb, loaded.name, start, end)
        console.print(replayed, highlight=False)
    else:
        date = parse_date(as_of, "--as-of")
        reports = [evaluate_alerts(ws.duckdb, config, loaded, date, notify=not quiet)]
        console.print(reports[0].line(), highlight=False)
    for warning in dict.fromkeys(w for report in reports for w in report.warnings):
        console.print(f"warning: {warning}", style="yellow", highlight=False)
    if any(report.queued for report in reports):
        console.print("Send them with `vitalsign alerts deliver`.", highlight=False)


def nothing_replayed(connection: Any, model_name: str, start: dt.date, end: dt.date) -> str:
    """Why a replay of [start, end] found no snapshot to evaluate, and what to do instead."""
    from vitalsign.alerts.evaluation import last_evaluated
    from vitalsign.alerts.messages import plural
    from vitalsign.engine.snapshots import snapshot_dates

    dates = snapshot_dates(connection, model_name)
    inside = [d for d in dates if start <= d <= end]
    last = last_evaluated(connection, model_name)
    if not inside:
        stored = f"its snapshots run from {dates[0]} to {dates[-1]}" if dates else "it has none"
        return (
            f"model {model_name!r} has no snapshot in that range ({stored}). To fix this, "
            "give dates with snapshots, or score them first with `vitalsign backfill`"
        )
    verb = "is" if len(inside) == 1 else "are"
    return (
        f"the {plural(len(inside), 'snapshot')} in that range ({inside[0]} to {inside[-1]}) "
        f"{verb} not after {last}, the last date already evaluated, and alerts are "
        "evaluated oldest first (docs/alerts.md, 'In date order'). To fix this, replay "
        f"dates after {last}, or replay the range on a copy of the workspace made before "
        "its alerts were evaluated"
    )


@alerts_app.command("list")
def alerts_list(
    account: Annotated[str | None, typer.Option("--account", help="Account id.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Account owner.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="active, open, acknowledged or resolved.")
    ] = "active",
    rule: Annotated[str | None, typer.Option("--rule", help="Rule name.")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="info, warning, critical.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Page size, in accounts.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many accounts.")] = 0,
    format_: FormatOption = "text",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """List alerts grouped by account (most severe, then largest ARR first), with ARR."""
    from vitalsign.alerts.grouping import alerts_table, group_by_account
    from vitalsign.alerts.inbox import list_alerts
    from vitalsign.alerts.messages import plural
    from vitalsign.store.workspace import open_workspace

    check_format(format_)
    if limit < 1 or offset < 0:
        raise VitalsignError("paging: --limit must be at least 1 and --offset at least 0")
    con = open_workspace(workspace).duckdb

    def matching(size: int) -> Any:
        return list_alerts(
            con,
            account_id=account,
            owner=owner,
            status=None if status == "all" else status,
            rule=rule,
            severity=severity,
            limit=size,
        )

    total = matching(1).total
    found = matching(max(total, 1)).items
    groups = group_by_account(con, found)
    page = groups[offset : offset + limit]
    if format_ == "json":
        echo_json(
            {
                "total": total,
                "accounts": len(groups),
                "groups": [g.to_dict() for g in page],
                "items": [a.to_dict() for g in page for a in g.alerts],
            }
        )
        return
    shown = (
        f"accounts {offset + 1}–{offset + len(page)} of {len(groups)}, {plural(total, 'alert')}"
        if page
        else "none"
    )
    console.print(alerts_table(page, f"Alerts ({shown})"))


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[str, typer.Argument(help="Alert id.")],
    format_: FormatOption = "text",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Show one alert: the snapshot and values that fired it, its status and feedback."""
    from vitalsign.alerts.inbox import get_alert
    from vitalsign.store.workspace import open_workspace

    alert = get_alert(open_workspace(workspace).duckdb, alert_id)
    if check_format(format_) == "json":
        echo_json(alert.to_dict())
        return
    for key, value in alert.to_dict().items():
        shown = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
        console.print(f"{key:>16}  {shown}", highlight=False, markup=False)
    console.print(
        f"Explain it: vitalsign explain {alert.account_id} --as-of {alert.snapshot_date}",
        highlight=False,
    )


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="Alert id.")],
    by: ActorOption = "cli",
    note: Annotated[str | None, typer.Option("--note", help="A note for the audit trail.")] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Acknowledge an open alert (it still resolves itself when the condition clears)."""
    from vitalsign.alerts.inbox import acknowledge_alert
    from vitalsign.store.workspace import open_workspace

    alert = acknowledge_alert(open_workspace(workspace).duckdb, alert_id, by, note)
    console.print(f"Alert {alert.alert_id} acknowledged by {alert.acknowledged_by}")


@alerts_app.command("feedback")
def alerts_feedback(
    alert_id: Annotated[str, typer.Argument(help="Alert id.")],
    useful: Annotated[
        bool, typer.Option("--useful/--not-useful", help="Was the alert worth acting on?")
    ],
    by: ActorOption = "cli",
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Mark an alert useful or not useful (the precision in `alerts stats`)."""
    from vitalsign.alerts.inbox import set_feedback
    from vitalsign.store.workspace import open_workspace

    alert = set_feedback(open_workspace(workspace).duckdb, alert_id, useful, by, note)
    console.print(f"Alert {alert.alert_id} marked {'useful' if alert.useful else 'not useful'}")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@alerts_app.command("stats")
def alerts_stats(
    since: Annotated[str | None, typer.Option("--since", help="First snapshot date.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last snapshot date.")] = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Churn horizon in days.")] = 90,
    format_: FormatOption = "text",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Alert volume, precision (useful share) and how many alerted accounts churned."""
    import pandas as pd

    from vitalsign.alerts.messages import plural
    from vitalsign.alerts.stats import alert_stats
    from vitalsign.store.workspace import open_workspace

    stats = alert_stats(
        open_workspace(workspace).duckdb,
        parse_date(since, "--since"),
        parse_date(until, "--until"),
        horizon,
    )
    if check_format(format_) == "json":
        echo_json(stats.to_dict())
        return
    console.print(
        f"{plural(stats.alerts, 'alert')} on {plural(stats.accounts, 'account')} "
        f"({stats.active} still active); "
        f"precision {_share(stats.precision)} ({stats.useful} useful of {stats.rated} rated); "
        f"{plural(stats.churned_accounts, 'alerted account')} churned within "
        f"{plural(horizon, 'day')} "
        f"({_share(stats.churn_rate)}); {stats.churners_alerted} of "
        f"{plural(stats.churners, 'churner')} "
        f"were alerted before churning ({_share(stats.recall)}); {stats.per_run_line()}",
        highlight=False,
    )
    table = Table(title="By rule", title_justify="left")
    for column in (
        "rule",
        "alerts",
        "accounts",
        "active",
        "rated",
        "useful",
        "precision",
        "churned",
    ):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for row in stats.by_rule.to_dict("records"):
        precision = None if pd.isna(row["precision"]) else float(row["precision"])
        table.add_row(
            *[str(row[c]) for c in ("rule", "alerts", "accounts", "active", "rated", "useful")],
            _share(precision),
            str(row["churned"]),
        )
    console.print(table)


alerts_app.command("digest")(alerts_digest)
alerts_app.command("deliver")(alerts_deliver)
alerts_app.command("outbox")(alerts_outbox)


def register(app: typer.Typer) -> None:
    """Add the alerts part's commands to the `vitalsign` app."""
    from vitalsign.alerts.job_commands import run, schedule
    from vitalsign.alerts.override_commands import override, overrides
    from vitalsign.alerts.task_commands import tasks_app

    app.add_typer(alerts_app, name="alerts")
    app.add_typer(tasks_app, name="tasks")
    app.command("override")(override)
    app.command("overrides")(overrides)
    app.command("run")(run)
    app.command("schedule")(schedule)
