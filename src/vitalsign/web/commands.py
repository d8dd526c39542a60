"""`vitalsign users add/remove/role/owner/list/password/token/revoke`, and registering `serve`."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    pass

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
    from vitalsign.web.serve_command import serve

    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
