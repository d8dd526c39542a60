"""Web users with roles, books and argon2 password hashes; every change audited.

API tokens are in vitalsign.web.tokens (their names still import from here).

>>> add_user(ws.duckdb, "ann", "csm", "correct horse", owner="ann@vendor.example")  # doctest: +SKIP
>>> set_role(ws.duckdb, "ann", "manager", actor="root")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vitalsign.errors import UserError
from vitalsign.store.conflicts import is_write_conflict
from vitalsign.store.overrides import audit
from vitalsign.store.transaction import transaction
from vitalsign.web.tables import ensure_web_tables

ROLES = ("admin", "manager", "csm", "viewer")
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist (a wrong name costs as long)."""
    return _hasher.hash("not a real password")


@dataclass(frozen=True)
class WebUser:
    """A person or machine that signs in to the web app."""

    name: str
    role: str
    owner: str | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    last_login_at: dt.datetime | None = None


def utc_now() -> dt.datetime:
    """Return the current UTC time without a time zone (as stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def secret_digest(secret: str) -> str:
    """Return the SHA-256 hex digest under which a high-entropy secret is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


_generation = [0]  # bumped by every change to users, tokens or sessions (see auth.py's cache)


def credentials_generation() -> int:
    """Return a number that changes whenever a user, token or session changes here."""
    return _generation[0]


def credentials_changed() -> None:
    """Drop every cached sign-in (called after each change)."""
    _generation[0] += 1


@contextmanager
def atomic(connection: Any) -> Iterator[Any]:
    """Run the block in one transaction, then drop cached sign-ins (committed or not)."""
    try:
        with transaction(connection):
            yield connection
    finally:
        credentials_changed()


USER_COLUMNS = "name, role, owner, created_at, disabled_at, last_login_at"


def user_from_row(row: tuple[Any, ...]) -> WebUser:
    """Return the user of a row selected with USER_COLUMNS."""
    return WebUser(*row[:6])


def get_user(connection: Any, name: str) -> WebUser:
    """Return the user called `name`, or raise UserError."""
    row = connection.execute(
        f"SELECT {USER_COLUMNS} FROM web_users WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        raise UserError(f"no web user {name!r}; list them with `vitalsign users list`")
    return user_from_row(row)


def list_users(connection: Any) -> list[WebUser]:
    """Return every user, by name."""
    ensure_web_tables(connection, indexes=False)
    rows = connection.execute(f"SELECT {USER_COLUMNS} FROM web_users ORDER BY name").fetchall()
    return [user_from_row(r) for r in rows]


BOOK_OPTION = "--owner"
"""How the CLI names the book; the web form passes its field's label instead."""


def _check_role(role: str, owner: str | None, book_field: str = BOOK_OPTION) -> None:
    if role not in ROLES:
        raise UserError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role == "csm" and not (owner or "").strip():
        raise UserError(
            f"a csm sees only the accounts they own: give {book_field}, the value of "
            "accounts.owner for their accounts"
        )


def _check_new_user(
    name: str, role: str, password: str, owner: str | None, book_field: str = BOOK_OPTION
) -> None:
    if not _NAME.match(name):
        raise UserError(
            f"user name {name!r}: use 1-64 letters, digits or . _ @ + - (e.g. ann or ann@acme.com)"
        )
    _check_role(role, owner, book_field)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def add_user(
    connection: Any,
    name: str,
    role: str,
    password: str,
    owner: str | None = None,
    actor: str = "cli",
    book_field: str = BOOK_OPTION,
) -> WebUser:
    """Create a user with an argon2 password hash, audited; raise UserError if it exists.

    `book_field` names where the caller takes the book from, for the refusal of a csm without one.
    """
    ensure_web_tables(connection, indexes=False)
    _check_new_user(name, role, password, owner, book_field)
    owner = owner.strip() if owner and owner.strip() else None
    created = utc_now()
    with atomic(connection):
        exists = connection.execute("SELECT 1 FROM web_users WHERE name = ?", [name]).fetchone()
        if exists:
            raise UserError(f"web user {name!r} exists; remove it first or pick another name")
        connection.execute(
            "INSERT INTO web_users (name, role, owner, password_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [name, role, owner, _hasher.hash(password), created],
        )
        audit(connection, actor, "user.add", name, {"role": role, "owner": owner})
    return WebUser(name=name, role=role, owner=owner, created_at=created)


def remove_user(connection: Any, name: str, actor: str = "cli") -> None:
    """Delete a user, revoke their tokens and end their sessions, audited."""
    ensure_web_tables(connection, indexes=False)
    get_user(connection, name)
    with atomic(connection):
        connection.execute("DELETE FROM web_sessions WHERE user_name = ?", [name])
        connection.execute(
            "UPDATE web_tokens SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL",
            [utc_now(), name],
        )
        connection.execute("DELETE FROM web_users WHERE name = ?", [name])
        audit(connection, actor, "user.remove", name, {})


def set_disabled(connection: Any, name: str, disabled: bool, actor: str = "cli") -> WebUser:
    """Disable a user (sign-ins, sessions and tokens refused at once) or enable them, audited.

    Their sessions end; their tokens are kept and work again once the user is enabled.
    """
    ensure_web_tables(connection, indexes=False)
    get_user(connection, name)
    if disabled and actor == name:
        raise UserError(f"{name}: you cannot disable yourself; ask another admin to do it")
    with atomic(connection):
        connection.execute(
            "UPDATE web_users SET disabled_at = ? WHERE name = ?",
            [utc_now() if disabled else None, name],
        )
        if disabled:
            connection.execute("DELETE FROM web_sessions WHERE user_name = ?", [name])
        audit(connection, actor, "user.disable" if disabled else "user.enable", name, {})
    return get_user(connection, name)


def set_password(connection: Any, name: str, password: str, actor: str = "cli") -> None:
    """Replace a user's password and end their sessions, audited."""
    ensure_web_tables(connection, indexes=False)
    user = get_user(connection, name)
    _check_new_user(user.name, user.role, password, user.owner)
    with atomic(connection):
        connection.execute(
            "UPDATE web_users SET password_hash = ? WHERE name = ?", [_hasher.hash(password), name]
        )
        connection.execute("DELETE FROM web_sessions WHERE user_name = ?", [name])
        audit(connection, actor, "user.password", name, {})


def set_role(
    connection: Any,
    name: str,
    role: str,
    owner: str | None = None,
    actor: str = "cli",
    book_field: str = BOOK_OPTION,
) -> WebUser:
    """Change a user's role (a csm needs a book: `owner`, or the one they have), audited.

    An admin cannot demote themselves (the admin area must keep someone who can undo it).
    """
    ensure_web_tables(connection, indexes=False)
    user = get_user(connection, name)
    owner = owner.strip() if owner and owner.strip() else user.owner
    _check_role(role, owner, book_field)
    if actor == name and user.role == "admin" and role != "admin":
        raise UserError(f"{name}: you cannot demote yourself; ask another admin to do it")
    with atomic(connection):
        connection.execute(
            "UPDATE web_users SET role = ?, owner = ? WHERE name = ?", [role, owner, name]
        )
        detail: dict[str, str | None] = {"from": user.role, "to": role}
        if owner != user.owner:
            detail |= {"owner_from": user.owner, "owner": owner}
        audit(connection, actor, "user.role", name, detail)
    return get_user(connection, name)


def set_owner(connection: Any, name: str, owner: str | None, actor: str = "cli") -> WebUser:
    """Assign a user's book (the accounts.owner value whose accounts a csm sees), audited."""
    ensure_web_tables(connection, indexes=False)
    user = get_user(connection, name)
    owner = owner.strip() if owner and owner.strip() else None
    if user.role == "csm" and owner is None:
        raise UserError(f"{name} is a csm: give the owner name of their accounts (their book)")
    with atomic(connection):
        connection.execute("UPDATE web_users SET owner = ? WHERE name = ?", [owner, name])
        audit(connection, actor, "user.owner", name, {"from": user.owner, "to": owner})
    return get_user(connection, name)


def generate_password() -> str:
    """Return a random one-time password (shown once, e.g. by a reset in the admin area)."""
    return secrets.token_urlsafe(12)


def record_login(connection: Any, name: str) -> None:
    """Remember when a user last signed in (shown in the admin area; not a credential).

    Two sign-ins of one user at the same moment both update the user's row; the one that
    loses DuckDB's write conflict keeps the other's time (the same moment) instead of
    failing the sign-in.
    """
    try:
        connection.execute(
            "UPDATE web_users SET last_login_at = ? WHERE name = ?", [utc_now(), name]
        )
    except duckdb.TransactionException as error:
        if not is_write_conflict(error):
            raise


def check_password(connection: Any, name: str, password: str) -> WebUser | None:
    """Return the user when `password` is theirs, else None (in about the same time).

    A disabled user is returned too (with `disabled_at`): the caller refuses them, saying so.
    """
    row = connection.execute(
        f"SELECT {USER_COLUMNS}, password_hash FROM web_users WHERE name = ?",
        [name],
    ).fetchone()
    stored = row[6] if row else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return user_from_row(row) if row else None
