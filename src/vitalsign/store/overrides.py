"""Manual overrides of an account's band or a manual signal, with reason, expiry and audit."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pandas as pd

from vitalsign.errors import VitalsignError
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
) -> str:
    """Record an override of `target` ("band" or a signal name) and audit it; return its id."""
    if not reason.strip():
        raise VitalsignError('an override needs a reason (--reason "...")')
    created = created_at or _now()
    if expires_at is not None and expires_at <= created:
        raise VitalsignError(f"the override expires ({expires_at}) before it starts ({created})")
    override_id = uuid.uuid4().hex[:12]
    with transaction(connection):
        connection.execute(
            "INSERT INTO overrides VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [override_id, account_id, target, value, reason, author, created, expires_at],
        )
        audit(
            connection,
            author,
            "override.add",
            account_id,
            {
                "id": override_id,
                "target": target,
                "value": value,
                "reason": reason,
                "expires_at": expires_at,
            },
        )
    return override_id


def active_overrides(connection: Any, dates: list[dt.date]) -> pd.DataFrame:
    """Return the overrides in force at the start of each date (latest per target wins)."""
    frame: pd.DataFrame = connection.execute(
        """
        SELECT d.as_of, o.account_id, o.target, o.value
        FROM (SELECT UNNEST(?::TIMESTAMP[]) AS as_of) d
        JOIN overrides o
          ON o.created_at <= d.as_of
         AND (o.expires_at IS NULL OR o.expires_at > d.as_of)
         AND (o.revoked_at IS NULL OR o.revoked_at > d.as_of)
        QUALIFY row_number() OVER (
            PARTITION BY d.as_of, o.account_id, o.target ORDER BY o.created_at DESC) = 1
        """,
        [[dt.datetime(d.year, d.month, d.day) for d in dates]],
    ).df()
    return frame
