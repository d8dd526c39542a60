"""List and revoke overrides (recorded by vitalsign.store.overrides.add_override), audited.

An override stops applying on its expiry date or from its revocation; scoring runs after
that use the computed value again. Past snapshots keep what was in force then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from vitalsign.alerts.tasks import utc_now
from vitalsign.store.overrides import revoke
from vitalsign.store.transaction import transaction


def list_overrides(
    connection: Any,
    account_id: str | None = None,
    include_inactive: bool = False,
    at: dt.datetime | None = None,
) -> pd.DataFrame:
    """Return overrides with a `state` column: active, expired, revoked or scheduled.

    >>> list_overrides(ws.duckdb, "acct-0042")[["target", "value", "state"]]  # doctest: +SKIP
    """
    at = at or utc_now()
    frame: pd.DataFrame = connection.execute(
        """
        SELECT override_id, account_id, target, value, reason, author, created_at, expires_at,
               revoked_at,
               CASE WHEN revoked_at IS NOT NULL AND revoked_at <= $at THEN 'revoked'
                    WHEN expires_at IS NOT NULL AND expires_at <= $at THEN 'expired'
                    WHEN created_at > $at THEN 'scheduled'
                    ELSE 'active' END AS state
        FROM overrides
        WHERE ($account::VARCHAR IS NULL OR account_id = $account::VARCHAR)
        ORDER BY account_id, created_at DESC, override_id
        """,
        {"at": at, "account": account_id},
    ).df()
    if not include_inactive:
        frame = frame[frame["state"].isin(["active", "scheduled"])].reset_index(drop=True)
    return frame


def revoke_override(connection: Any, override_id: str, actor: str, reason: str) -> None:
    """End an override now; scoring runs from the next date use the computed value. Audited.

    vitalsign.engine.rescore.revoke_and_rescore also re-scores the latest snapshot at once.
    """
    with transaction(connection):
        revoke(connection, override_id, actor, reason)
