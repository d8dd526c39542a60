"""`vitalsign serve` and `vitalsign users add/remove/role/owner/list/password/token/revoke`."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from vitalsign.web.jobs import JobRun

console = Console(highlight=False)
users_app = typer.Typer(help="Web users, roles and API tokens.", no_args_is_help=True)

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]
ActorOption = Annotated[
    str | None, typer.Option("--by", help="Who makes the change (audit); default: you.")
]


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _show_app_log(level: str) -> None:
    """Print the app's own log lines (e.g. the serving cache's build) like uvicorn's."""
    import logging

    log = logging.getLogger("vitalsign.web")
    if not any(h.get_name() == "vitalsign-serve" for h in log.handlers):  # once per process
        handler = logging.StreamHandler()
        handler.set_name("vitalsign-serve")
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
    log.setLevel("DEBUG" if level.lower() == "trace" else level.upper())


def serve(
    workspace: WorkspaceOption = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[
        bool,
        typer.Option(help="Send cookies over HTTPS only (set it behind a TLS proxy)."),
    ] = False,
    session_hours: Annotated[float, typer.Option(help="How long a login lasts.")] = 12.0,
    root_path: Annotated[
        str, typer.Option(help="URL prefix when a proxy serves the app under a path.")
    ] = "",
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.")
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-* headers are trusted.")
    ] = "127.0.0.1",
    base_url: Annotated[
        str | None,
        typer.Option(
            help="Public address used in links and redirects, e.g. https://cs.acme.com "
            "(default: web.base_url in vitalsign.yml, else http://HOST:PORT; never the "
            "request's Host header)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    schedule: Annotated[
        str | None,
        typer.Option(
            help='Also run the daily job (`vitalsign run`) on this crontab, e.g. "0 6 * * *". '
            "Other `vitalsign` commands keep working: the server runs them (docs/workspace.md)."
        ),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone of --schedule (default local).")
    ] = None,
    no_sync: Annotated[
        bool, typer.Option("--no-sync", help="Scheduled runs skip syncing the sources.")
    ] = False,
) -> None:
    """Serve the web app and REST API (and the event API) of a workspace."""
    import uvicorn

    from vitalsign.alerts.job_commands import daily_jobs, describe_schedule
    from vitalsign.alerts.scheduler import build_scheduler, parse_cron
    from vitalsign.errors import VitalsignError
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.app import checkpoint, create_app
    from vitalsign.web.state import WebSettings

    if (timezone or no_sync) and not schedule:
        raise VitalsignError(
            "--timezone and --no-sync go with --schedule CRON: add it, or drop them"
        )
    _show_app_log(log_level)
    trigger = parse_cron(schedule, timezone, "--schedule") if schedule else None
    ws = open_workspace(workspace)
    settings = WebSettings.from_config(
        ws.config.web,
        secure_cookies=secure_cookies,
        session_hours=session_hours,
        base_url=_base_url(base_url, ws.config.web.base_url, host, port, root_path),
    )
    app = create_app(ws, settings)
    jobs = app.state.jobs  # web/jobs.py: the schedule and "run now" share one queue and job_runs
    jobs.sync, jobs.schedule, jobs.trigger = not no_sync, schedule, trigger
    jobs.on_finish.append(_log_line())
    scheduler = None
    if schedule and trigger is not None:
        _, retries = daily_jobs(ws.root, sync=not no_sync, model=None)
        daily = partial(jobs.run, "daily")
        scheduler = build_scheduler(trigger, daily, retries, 60.0, timezone, background=True)
        scheduler.start()
        console.print(describe_schedule(schedule, trigger))
    console.print(f"Serving {ws.root} on http://{host}:{port}{root_path}/ (Ctrl-C stops)")
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            root_path=root_path,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            log_level=log_level,
        )
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        checkpoint(ws)  # the app's shutdown did it too, unless uvicorn stopped before it
        ws.close()


def _log_line() -> Callable[[JobRun], None]:
    """Print one line per finished job run on the server's own output (its log).

    The run may end on the thread of a relayed command, whose `sys.stdout` goes to that
    terminal: the line goes to the process's stdout all the same.
    """
    import sys

    stream = getattr(sys.stdout, "default", sys.stdout)  # relay_server.ThreadStreams
    log = Console(file=stream, highlight=False, soft_wrap=True)

    def line(run: JobRun) -> None:
        from vitalsign.web.jobs import describe_finished

        log.print(
            f"{run.finished_at or run.started_at:%H:%M:%S} UTC {describe_finished(run)}",
            markup=False,
        )
        stream.flush()

    return line


def _base_url(
    given: str | None, configured: str | None, host: str, port: int, root: str
) -> str | None:
    """Return the links' base: --base-url, else web.base_url, else the bind address.

    Bound to every address (0.0.0.0, ::) there is no one address to name: links are then
    paths on whatever address the browser used.
    """
    from vitalsign.errors import VitalsignError

    if given is not None and not re.match(r"^https?://[^\s?#]+$", given):
        raise VitalsignError(
            f"--base-url {given!r}: give an http(s) address without query, e.g. "
            "https://cs.acme.com or https://acme.com/vitalsign"
        )
    if given or configured:
        return str(given or configured)
    if host in ("0.0.0.0", "::", ""):
        return None
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}{root}"


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (used to sign in).")],
    role: Annotated[str, typer.Option(help="admin, manager, csm or viewer.")],
    owner: Annotated[
        str | None, typer.Option(help="For a csm: their name in accounts.owner.")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="VITALSIGN_PASSWORD",
            help="Password (prompted when not given; or VITALSIGN_PASSWORD).",
        ),
    ] = "",
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Create a web user with a role (a csm sees only the accounts of --owner)."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.users import add_user

    user = add_user(open_workspace(workspace).duckdb, name, role, password, owner, _actor(by))
    scope = f", accounts of {user.owner}" if user.role == "csm" else ""
    console.print(f"Added {user.name} ({user.role}{scope})")


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="User name.")],
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Delete a user, revoke their API tokens and end their sessions."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.users import remove_user

    remove_user(open_workspace(workspace).duckdb, name, _actor(by))
    console.print(f"Removed {name}; their tokens are revoked and sessions ended")


@users_app.command("role")
def users_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="admin, manager, csm or viewer.")],
    owner: Annotated[
        str | None, typer.Option(help="For a csm: their name in accounts.owner (their book).")
    ] = None,
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Change a user's role (a csm needs a book: --owner, or the one they have)."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.users import set_role

    user = set_role(open_workspace(workspace).duckdb, name, role, owner, _actor(by))
    scope = f", accounts of {user.owner}" if user.role == "csm" else ""
    console.print(f"{user.name} is now {user.role}{scope}")


@users_app.command("owner")
def users_owner(
    name: Annotated[str, typer.Argument(help="User name.")],
    owner: Annotated[str, typer.Argument(help="Their name in accounts.owner ('' for none).")],
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Assign a user's book: the accounts.owner value whose accounts a csm sees."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.users import set_owner

    user = set_owner(open_workspace(workspace).duckdb, name, owner, _actor(by))
    console.print(f"Book of {user.name}: {user.owner or 'none'}")


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="User name.")],
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Disable a user: sign-ins, sessions and tokens refused until enabled again."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.users import set_disabled

    set_disabled(open_workspace(workspace).duckdb, name, True, _actor(by))
    console.print(f"Disabled {name}; their sessions are ended and their tokens refused")


@users_app.command("enable")
def users_enable(
    name: Annotated[str, typer.Argument(help="User name.")],
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Enable a disabled user again (their tokens work again)."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.users import set_disabled

    set_disabled(open_workspace(workspace).duckdb, name, False, _actor(by))
    console.print(f"Enabled {name}")


@users_app.command("list")
def users_list(
    tokens: Annotated[bool, typer.Option("--tokens", help="Also list API tokens.")] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """List the web users (and their API tokens)."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.tokens import list_tokens
    from vitalsign.web.users import list_users

    connection = open_workspace(workspace).duckdb
    table = Table(title="Web users", title_justify="left")
    for column in ("user", "role", "owner", "created", "disabled", "last sign-in"):
        table.add_column(column)
    for user in list_users(connection):
        disabled = f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else ""
        created = f"{user.created_at:%Y-%m-%d}"
        login = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        table.add_row(user.name, user.role, user.owner or "", created, disabled, login)
    console.print(table)
    if tokens:
        listing = Table(title="API tokens", title_justify="left")
        columns = (
            "id",
            "user",
            "label",
            "scope",
            "created",
            "valid through",
            "last used",
            "revoked",
        )
        whole = {"id": 12, "created": 10, "valid through": 10}  # never cut (revoke needs the id)
        for column in columns:
            listing.add_column(column, min_width=whole.get(column))
        for token in list_tokens(connection):
            revoked = f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else ""
            created = f"{token.created_at:%Y-%m-%d}"
            until = str(token.valid_through or "never")
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            listing.add_row(
                token.token_id,
                token.user_name,
                token.label,
                token.scope,
                created,
                until,
                used,
                revoked,
            )
        console.print(listing)


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="VITALSIGN_PASSWORD",
            help="New password (prompted when not given).",
        ),
    ] = "",
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Set a user's password (their sessions end)."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.users import set_password

    set_password(open_workspace(workspace).duckdb, name, password, _actor(by))
    console.print(f"Password of {name} changed")


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="User the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    scope: Annotated[
        str, typer.Option(help="read (GET only) or write (what the user's role may).")
    ] = "write",
    expires: Annotated[
        str | None, typer.Option(help="Last valid day, YYYY-MM-DD (UTC); default: never.")
    ] = None,
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Create an API token (shown once; only its hash is stored)."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.rendering import form_date
    from vitalsign.web.tokens import create_token, token_expiry, valid_through

    until = token_expiry(form_date(expires, "--expires"))
    token_id, secret = create_token(
        open_workspace(workspace).duckdb, name, label, _actor(by), scope, until
    )
    through = f", valid through {valid_through(until)}" if until else ", never expires"
    console.print(f"Token {token_id} for {name}{through}. Copy it now, it is not shown again:")
    typer.echo(secret)


@users_app.command("revoke")
def users_revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (see `users list --tokens`).")],
    by: ActorOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Revoke an API token."""
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.tokens import revoke_token

    token = revoke_token(open_workspace(workspace).duckdb, token_id, _actor(by))
    console.print(f"Token {token.token_id} of {token.user_name} revoked")


def register(app: typer.Typer) -> None:
    """Add `serve` and the `users` group to the CLI."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
