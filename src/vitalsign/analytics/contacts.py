"""An account's contacts: the people in `users`, their role, last activity, champion marked.

>>> [c.email for c in account_contacts(ws.duckdb, "acc-1") if c.is_champion]  # doctest: +SKIP
['george.novak@example.com']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Contact:
    """One person at the account and how recently they used the product."""

    user_id: str
    email: str | None
    role: str | None
    is_champion: bool
    is_exec_sponsor: bool
    created_at: dt.datetime
    left_at: dt.datetime | None
    last_activity: dt.datetime | None  # their newest product event; None when they have none

    @property
    def active(self) -> bool:
        """Whether the person is still at the account."""
        return self.left_at is None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "user_id": self.user_id,
            "email": self.email,
            "role": self.role,
            "is_champion": self.is_champion,
            "is_exec_sponsor": self.is_exec_sponsor,
            "created_at": self.created_at.isoformat(),
            "left_at": None if self.left_at is None else self.left_at.isoformat(),
            "last_activity": None if self.last_activity is None else self.last_activity.isoformat(),
        }


def _contact_order(c: Contact) -> tuple[bool, bool, bool, tuple[int, float], str]:
    """The SQL's order: active first, champion, sponsor, most recently active, id."""
    recent = (0, -c.last_activity.timestamp()) if c.last_activity else (1, 0.0)
    return (not c.active, not c.is_champion, not c.is_exec_sponsor, recent, c.user_id)


def account_contacts(
    connection: Any, account_id: str, last_seen: Mapping[str, dt.datetime] | None = None
) -> list[Contact]:
    """Return the account's people: champion and executive sponsor first, then the most active.

    People who left the account come last; rows a snapshot source deleted are left out.
    `last_seen` (user_id → newest event), when the caller read it already, spares a scan of
    the account's events.
    """
    if last_seen is not None:
        rows = connection.execute(
            "SELECT user_id, email, role, coalesce(is_champion, false), "
            "coalesce(is_exec_sponsor, false), created_at, left_at FROM users "
            "WHERE account_id = ? AND deleted_at IS NULL",
            [account_id],
        ).fetchall()
        found = [
            Contact(u, email, role, champion, sponsor, created, left, last_seen.get(u))
            for u, email, role, champion, sponsor, created, left in rows
        ]
        return sorted(found, key=_contact_order)
    rows = connection.execute(
        """
        WITH seen AS (
            SELECT user_id, max(timestamp) AS last_activity FROM events
            WHERE account_id = ? AND user_id IS NOT NULL GROUP BY user_id
        )
        SELECT u.user_id, u.email, u.role, coalesce(u.is_champion, false),
               coalesce(u.is_exec_sponsor, false), u.created_at, u.left_at, s.last_activity
        FROM users u LEFT JOIN seen s USING (user_id)
        WHERE u.account_id = ? AND u.deleted_at IS NULL
        ORDER BY u.left_at IS NOT NULL, u.is_champion IS NOT TRUE, u.is_exec_sponsor IS NOT TRUE,
                 s.last_activity DESC NULLS LAST, u.user_id
        """,
        [account_id, account_id],
    ).fetchall()
    return [Contact(*row) for row in rows]
