"""Server-side login sessions: a random cookie secret, stored hashed, with its CSRF token."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from vitalsign.web.users import (
    WebUser,
    credentials_changed,
    record_login,
    secret_digest,
    utc_now,
)

SESSION_COOKIE = "vitalsign_session"
LOGIN_CSRF_COOKIE = "vitalsign_login_csrf"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its user and the CSRF token its forms must carry."""

    user: WebUser
    csrf_token: str
    expires_at: dt.datetime


def create_session(connection: Any, user: WebUser, hours: float) -> tuple[str, Session]:
    """Start a session for `user`; return the cookie secret and the session."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utc_now()
    expires = now + dt.timedelta(hours=hours)
    connection.execute("DELETE FROM web_sessions WHERE expires_at <= ?", [now])
    connection.execute(
        "INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?)",
        [secret_digest(secret), user.name, csrf, now, expires],
    )
    record_login(connection, user.name)
    return secret, Session(user=user, csrf_token=csrf, expires_at=expires)


def find_session(connection: Any, secret: str) -> Session | None:
    """Return the unexpired session of a cookie secret (of an enabled user), or None."""
    row = connection.execute(
        "SELECT u.name, u.role, u.owner, u.created_at, s.csrf_token, s.expires_at "
        "FROM web_sessions s JOIN web_users u ON u.name = s.user_name "
        "WHERE s.session_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
        [secret_digest(secret), utc_now()],
    ).fetchone()
    if row is None:
        return None
    user = WebUser(name=row[0], role=row[1], owner=row[2], created_at=row[3])
    return Session(user=user, csrf_token=row[4], expires_at=row[5])


def end_session(connection: Any, secret: str) -> None:
    """Forget a session (log out)."""
    connection.execute("DELETE FROM web_sessions WHERE session_hash = ?", [secret_digest(secret)])
    credentials_changed()
