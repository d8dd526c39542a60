"""The workspace write key that authenticates the HTTP event API (kept in `event_api_keys`)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from vitalsign.ingest.runs import ensure_ingest_tables, utc_now
from vitalsign.store.transaction import transaction


def current_write_key(con: Any) -> str | None:
    """Return the active write key, or None when none was made yet."""
    ensure_ingest_tables(con)
    row = con.execute(
        "SELECT write_key FROM event_api_keys WHERE revoked_at IS NULL "
        "ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else None


def ensure_write_key(con: Any, rotate: bool = False) -> str:
    """Return the active write key, creating one (or a new one, revoking the old, on rotate)."""
    current = current_write_key(con)
    if current is not None and not rotate:
        return current
    key = "vsk_" + secrets.token_urlsafe(24)
    with transaction(con):
        now = utc_now()
        con.execute("UPDATE event_api_keys SET revoked_at = ? WHERE revoked_at IS NULL", [now])
        con.execute("INSERT INTO event_api_keys VALUES (?, ?, NULL)", [key, now])
    return key


def is_valid_write_key(con: Any, candidate: str) -> bool:
    """True when `candidate` is the active write key (compared in constant time)."""
    current = current_write_key(con)
    return current is not None and hmac.compare_digest(current.encode(), candidate.encode())
