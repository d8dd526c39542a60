"""Everything the account page shows: score row, history, explanation, overrides, audit trail.

The explanation is the `Explanation` of `vitalsign.engine.explain`, built from the rows this
module already read: `explain_account` first lists every snapshot date (a scan of the whole
history) and cannot use an index, which costs more than the page's whole time budget at
100,000 accounts. tests/web/test_account_view.py checks both give the same explanation.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.alerts import list_overrides
from vitalsign.engine.explain import Explanation, explain_row
from vitalsign.web.accounts import account_history, plain, score_row


@dataclass
class AccountView:
    """One account on one snapshot date, with what surrounds it."""

    account_id: str
    as_of: dt.date
    row: dict[str, Any]
    history: list[dict[str, Any]]
    explanation: Explanation
    overrides: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def explanation_from(
    connection: Any, model_name: str, account_id: str, row: dict[str, Any]
) -> Explanation:
    """Return the explanation of a stored score row (as `explain_account` would)."""
    return explain_row(connection, model_name, {**row, "account_id": account_id})


def account_audit(connection: Any, account_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Return the audit entries about the account, its alerts and its tasks, newest first."""
    subjects = (
        "subject = ? OR subject IN (SELECT alert_id FROM alerts WHERE account_id = ?)"
        " OR subject IN (SELECT task_id FROM tasks WHERE account_id = ?)"
    )
    params: list[Any] = [account_id, account_id, account_id]
    rows = connection.execute(
        f"SELECT logged_at, actor, action, subject, detail FROM audit_log WHERE {subjects} "
        "ORDER BY logged_at DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        {
            "logged_at": plain(r[0]),
            "actor": r[1],
            "action": r[2],
            "subject": r[3],
            "detail": json.loads(r[4]) if r[4] else {},
        }
        for r in rows
    ]


def account_overrides(connection: Any, account_id: str) -> list[dict[str, Any]]:
    """Return the account's overrides, newest first, with their state."""
    any_row = connection.execute(
        "SELECT 1 FROM overrides WHERE account_id = ? LIMIT 1", [account_id]
    ).fetchone()
    if any_row is None:  # most accounts: skip building an empty frame
        return []
    frame = list_overrides(connection, account_id, include_inactive=True)
    return [{str(k): plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def account_view(
    connection: Any, model_name: str, account_id: str, as_of: dt.date | None = None
) -> AccountView:
    """Gather the account page of `account_id` on `as_of` (default: its latest snapshot)."""
    history = account_history(connection, model_name, account_id)
    day = as_of or history[-1]["snapshot_date"]
    row = score_row(connection, model_name, account_id, day)
    explanation = explanation_from(connection, model_name, account_id, row)
    return AccountView(
        account_id=account_id,
        as_of=explanation.as_of,
        row={k: plain(v) for k, v in row.items()},
        history=history,
        explanation=explanation,
        overrides=account_overrides(connection, account_id),
        audit=account_audit(connection, account_id),
    )
