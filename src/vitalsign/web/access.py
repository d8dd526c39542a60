"""Who may see and change what: roles, the csm's book of accounts, and refusals as HTTP problems.

admin    everything
manager  every account: read, override, acknowledge alerts, update tasks
csm      only the accounts whose accounts.owner is the user's owner name: the same actions
viewer   every account, read only
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

from vitalsign.web.users import WebUser

CHANGE_ROLES = ("admin", "manager", "csm")
NO_OWNER = "\x00no owner\x00"  # matches no account: a csm without an owner name sees nothing


class HttpProblem(Exception):
    """A refusal or error shown as {"error": {"code", "message"}} (API) or an error page."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class LoginRequired(Exception):
    """No valid session or token: the API answers 401, pages redirect to the login form."""


@dataclass(frozen=True)
class Principal:
    """The signed-in user of one request, and how they proved it."""

    user: WebUser
    via: Literal["session", "token"]
    csrf_token: str | None = None
    scope: str = "write"  # an API token's scope: "read" may not change anything
    token_id: str | None = None

    @property
    def name(self) -> str:
        """The user's name (the actor in the audit trail)."""
        return self.user.name

    @property
    def role(self) -> str:
        """admin, manager, csm or viewer."""
        return self.user.role

    @property
    def scope_owner(self) -> str | None:
        """The owner name a csm is limited to; None for roles that see every account."""
        if self.role != "csm":
            return None
        return self.user.owner or NO_OWNER

    @property
    def can_change(self) -> bool:
        """Whether the user may override, acknowledge and update tasks."""
        return self.role in CHANGE_ROLES and self.scope == "write"


def require_change(principal: Principal) -> None:
    """Refuse a viewer (read-only) any change."""
    if not principal.can_change:
        raise HttpProblem(
            403, "forbidden", f"role {principal.role!r} is read only; ask an admin for access"
        )


def require_backtester(principal: Principal) -> None:
    """Let only admins and managers start a backtest (it reads the whole history)."""
    if principal.role not in ("admin", "manager"):
        raise HttpProblem(403, "forbidden", "only an admin or a manager can start a backtest")


def current_owner(connection: Any, account_id: str) -> tuple[bool, str | None]:
    """Return (the account exists, its owner) from the accounts table."""
    row = connection.execute(
        "SELECT owner FROM accounts WHERE account_id = ?", [account_id]
    ).fetchone()
    return (row is not None, None if row is None else row[0])


def require_account(connection: Any, principal: Principal, account_id: str) -> None:
    """Refuse a csm an account that is not theirs (or does not exist)."""
    owner = principal.scope_owner
    if owner is None:
        return
    _, actual = current_owner(connection, account_id)
    if actual != owner:
        raise HttpProblem(
            403, "forbidden", f"account {account_id!r} is not in your book (owner {owner!r})"
        )


def scope_filter(principal: Principal, column: str = "account_id") -> tuple[str, list[Any]]:
    """Return an SQL condition (and its parameters) limiting rows to the user's accounts."""
    owner = principal.scope_owner
    if owner is None:
        return "TRUE", []
    return f"{column} IN (SELECT account_id FROM accounts WHERE owner = ?)", [owner]


def book_key(connection: Any, principal: Principal) -> Hashable:
    """Return what results scoped to the user depend on, for memo keys: their book.

    None for roles that see every account; for a csm their owner name and a fingerprint of
    the accounts they own, so that an ingest moving an account between books shows at once
    (the score history, which keys the memo, does not change with `accounts.owner`).
    """
    owner = principal.scope_owner
    if owner is None:
        return None
    row = connection.execute(
        "SELECT count(*), bit_xor(hash(account_id)) FROM accounts WHERE owner = ?", [owner]
    ).fetchone()
    return (owner, *row)
