"""API tokens: created with a scope and an expiry, stored hashed, revoked, last use recorded.

>>> token_id, secret = create_token(ws.duckdb, "ann", "export", scope="read")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import duckdb

from vitalsign.errors import UserError
from vitalsign.store.conflicts import is_write_conflict
from vitalsign.store.overrides import audit
from vitalsign.web.tables import ensure_web_tables
from vitalsign.web.users import (
    USER_COLUMNS,
    WebUser,
    atomic,
    get_user,
    secret_digest,
    user_from_row,
    utc_now,
)

SCOPES = ("read", "write")  # a read token may only GET; write does what its user's role may
TOKEN_PREFIX = "vst_"


@dataclass(frozen=True)
class TokenInfo:
    """An API token, without its secret."""

    token_id: str
    user_name: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    scope: str = "write"
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None

    @property
    def valid_through(self) -> dt.date | None:
        """The last day (UTC) the token works, as the user gave it; None: never expires."""
        return valid_through(self.expires_at)

    def state(self, now: dt.datetime) -> str:
        """Return "revoked", "expired" or "active" at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def create_token(
    connection: Any,
    name: str,
    label: str = "",
    actor: str = "cli",
    scope: str = "write",
    expires_at: dt.datetime | None = None,
) -> tuple[str, str]:
    """Create an API token for `name`; return (token id, secret). Only its hash is stored.

    A "read" token may only read (GET); "write" may do what the user's role may. A token
    with `expires_at` (UTC) is refused from then on.
    """
    ensure_web_tables(connection, indexes=False)
    get_user(connection, name)
    if scope not in SCOPES:
        raise UserError(f"token scope {scope!r}: use one of {', '.join(SCOPES)}")
    now = utc_now()
    if expires_at is not None and expires_at <= now:
        raise UserError(
            f"a token valid through {valid_through(expires_at)} is not in the future: "
            "give today or a later day (YYYY-MM-DD, UTC)"
        )
    token_id = uuid.uuid4().hex[:12]
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with atomic(connection):
        connection.execute(
            "INSERT INTO web_tokens (token_id, token_hash, user_name, label, created_at, "
            "revoked_at, scope, expires_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            [token_id, secret_digest(secret), name, label, now, scope, expires_at],
        )
        expiry = expires_at.isoformat(timespec="minutes") if expires_at else None
        detail = {"token_id": token_id, "label": label, "scope": scope, "expires_at": expiry}
        audit(connection, actor, "user.token", name, detail)
    return token_id, secret


def token_expiry(last_day: dt.date | None) -> dt.datetime | None:
    """Return when a token valid through `last_day` (UTC) expires: the next day's start."""
    if last_day is None:
        return None
    return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time())


def valid_through(expires_at: dt.datetime | None) -> dt.date | None:
    """The last day a token expiring at `expires_at` works: the day before a midnight expiry."""
    if expires_at is None:
        return None
    return (expires_at - dt.timedelta(microseconds=1)).date()


def revoke_token(connection: Any, token_id: str, actor: str = "cli") -> TokenInfo:
    """Revoke an API token by id, audited; raise UserError when it is unknown."""
    ensure_web_tables(connection, indexes=False)
    tokens = [t for t in list_tokens(connection) if t.token_id == token_id]
    if not tokens:
        raise UserError(f"no API token {token_id!r}; see `vitalsign users list --tokens`")
    if tokens[0].revoked_at is not None:
        return tokens[0]
    now = utc_now()
    with atomic(connection):
        connection.execute(
            "UPDATE web_tokens SET revoked_at = ? WHERE token_id = ?", [now, token_id]
        )
        audit(connection, actor, "user.revoke_token", tokens[0].user_name, {"token_id": token_id})
    return TokenInfo(**{**tokens[0].__dict__, "revoked_at": now})


def list_tokens(connection: Any, name: str | None = None) -> list[TokenInfo]:
    """Return the API tokens (of one user, or all), newest first."""
    ensure_web_tables(connection, indexes=False)
    sql = f"SELECT {_TOKEN_COLUMNS} FROM web_tokens"
    params: list[Any] = []
    if name is not None:
        sql += " WHERE user_name = ?"
        params.append(name)
    rows = connection.execute(sql + " ORDER BY created_at DESC", params).fetchall()
    return [_token(r) for r in rows]


_TOKEN_COLUMNS = (
    "token_id, user_name, label, created_at, revoked_at, scope, expires_at, last_used_at"
)


def _token(row: tuple[Any, ...]) -> TokenInfo:
    token_id, user_name, label, created_at, revoked_at, scope, expires_at, last_used = row
    return TokenInfo(  # a token made before scopes existed has none: it writes
        token_id, user_name, label, created_at, revoked_at, scope or "write", expires_at, last_used
    )


def find_token(connection: Any, secret: str) -> tuple[WebUser, TokenInfo] | None:
    """Return the (enabled) user and the token of an unrevoked, unexpired secret, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    users = ", ".join(f"u.{c.strip()}" for c in USER_COLUMNS.split(","))
    tokens = ", ".join(f"t.{c.strip()}" for c in _TOKEN_COLUMNS.split(","))
    row = connection.execute(
        f"SELECT {users}, {tokens} FROM web_tokens t JOIN web_users u ON u.name = t.user_name "
        "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL "
        "AND (t.expires_at IS NULL OR t.expires_at > ?)",
        [secret_digest(secret), utc_now()],
    ).fetchone()
    return (user_from_row(row[:6]), _token(row[6:])) if row else None


def user_for_token(connection: Any, secret: str) -> WebUser | None:
    """Return the (enabled) user of an unrevoked, unexpired API token, or None."""
    found = find_token(connection, secret)
    return found[0] if found else None


def touch_token(connection: Any, token_id: str, when: dt.datetime) -> None:
    """Record when a token was last used (the web app does it at most once a minute).

    A use at the moment another writer changes the token's row (a revocation, another use)
    keeps that writer's change rather than failing the caller's request.
    """
    try:
        connection.execute(
            "UPDATE web_tokens SET last_used_at = ? WHERE token_id = ?", [when, token_id]
        )
    except duckdb.TransactionException as error:
        if not is_write_conflict(error):
            raise
