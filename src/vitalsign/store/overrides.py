"""Manual overrides of an account's band or a manual signal, with reason, expiry and audit."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pandas as pd

from vitalsign.errors import AlertError, VitalsignError
from vitalsign.store.transaction import transaction


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def audit(connection: Any, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
    """Append one entry to the audit trail."""
    connection.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)",
        [_now(), actor, action, subject, json.dumps(detail, default=str, sort_keys=True)],
    )


def add_override(
    connection: Any,
    account_id: str,
    target: str,
    value: str,
    reason: str,
    author: str,
    expires_at: dt.datetime | None = None,
    created_at: dt.datetime | None = None,
    applies_from: dt.datetime | None = None,
) -> str:
    """Record an override of `target` ("band" or a signal name) and audit it; return its id.

    It is in force on the snapshots dated from `applies_from` (default: when it is recorded)
    on; vitalsign.engine.rescore records it from the latest snapshot it re-scores.
    """
    with transaction(connection):
        return insert_override(
            connection,
            account_id,
            target,
            value,
            reason,
            author,
            expires_at,
            created_at,
            applies_from,
        )


def insert_override(
    connection: Any,
    account_id: str,
    target: str,
    value: str,
    reason: str,
    author: str,
    expires_at: dt.datetime | None = None,
    created_at: dt.datetime | None = None,
    applies_from: dt.datetime | None = None,
) -> str:
    """Insert and audit an override inside the caller's transaction; return its id."""
    if not reason.strip():
        raise VitalsignError('an override needs a reason (--reason "...")')
    created = created_at or _now()
    if expires_at is not None and expires_at <= created:
        raise VitalsignError(f"the override expires ({expires_at}) before it starts ({created})")
    override_id = uuid.uuid4().hex[:12]
    connection.execute(
        "INSERT INTO overrides (override_id, account_id, target, value, reason, author, "
        "created_at, expires_at, applies_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [override_id, account_id, target, value, reason, author, created, expires_at, applies_from],
    )
    detail: dict[str, Any] = {
        "id": override_id,
        "target": target,
        "value": value,
        "reason": reason,
        "expires_at": expires_at,
    }
    if applies_from is not None:
        detail["applies_from"] = applies_from
    audit(connection, author, "override.add", account_id, detail)
    return override_id


def revoke(
    connection: Any,
    override_id: str,
    actor: str,
    reason: str,
    revoked_from: dt.datetime | None = None,
) -> tuple[str, str]:
    """End an override from `revoked_from` (default: now) in the caller's transaction, audited.

    Returns the override's account and target.
    """
    if not reason.strip():
        raise AlertError('revoking an override needs a reason (--reason "...")')
    row = connection.execute(
        "SELECT account_id, target, revoked_at, expires_at FROM overrides WHERE override_id = ?",
        [override_id],
    ).fetchone()
    if row is None:
        raise AlertError(f"no override {override_id!r}; list them with `vitalsign overrides`")
    now = _now()
    if row[2] is not None:
        raise AlertError(f"override {override_id} was already revoked at {row[2]}")
    if row[3] is not None and row[3] <= now:
        raise AlertError(f"override {override_id} already expired at {row[3]}")
    connection.execute(
        "UPDATE overrides SET revoked_at = ?, revoked_from = ? WHERE override_id = ?",
        [now, revoked_from, override_id],
    )
    detail: dict[str, Any] = {"id": override_id, "reason": reason}
    if revoked_from is not None:
        detail["revoked_from"] = revoked_from
    audit(connection, actor, "override.revoke", str(row[0]), detail)
    return str(row[0]), str(row[1])


def active_overrides(connection: Any, dates: list[dt.date]) -> pd.DataFrame:
    """Return the overrides in force at the start of each date (latest per target wins).

    An override is in force from its `applies_from` (else its creation) until its expiry and
    its `revoked_from` (else its revocation).
    """
    frame: pd.DataFrame = connection.execute(
        """
        SELECT d.as_of, o.account_id, o.target, o.value
        FROM (SELECT UNNEST(?::TIMESTAMP[]) AS as_of) d
        JOIN overrides o
          ON coalesce(o.applies_from, o.created_at) <= d.as_of
         AND (o.expires_at IS NULL OR o.expires_at > d.as_of)
         AND (coalesce(o.revoked_from, o.revoked_at) IS NULL
              OR coalesce(o.revoked_from, o.revoked_at) > d.as_of)
        QUALIFY row_number() OVER (
            PARTITION BY d.as_of, o.account_id, o.target ORDER BY o.created_at DESC) = 1
        """,
        [[dt.datetime(d.year, d.month, d.day) for d in dates]],
    ).df()
    return frame
