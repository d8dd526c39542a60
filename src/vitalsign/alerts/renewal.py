"""`renewal_within`: a rule that speaks only for accounts whose renewal is near.

Churn happens at a renewal, so a risk a CSM can still act on is a risk before the next
renewal. Any rule with `renewal_within: 60d` holds only for the accounts whose next
renewal is 0 to 60 days after the snapshot, and its values say how many days are left
(`days_to_renewal`). An open alert is kept only while the renewal is still ahead within
the window: once the renewal date passes, it resolves (docs/alerts.md, "Renewal risk").

The days to renewal are those the model's `days_to_renewal` attribute reads
(engine/signals.py): `accounts.renewal_date` holds the next renewal as of today, and as of
an earlier snapshot the next renewal is that date rolled back by whole annual terms to the
first one on or after the snapshot, so a replay of past snapshots sees the renewal then due.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

DAYS_TO_RENEWAL = """
    SELECT account_id, CASE WHEN ahead >= 365 THEN ahead - 365 * floor(ahead / 365)
                            ELSE ahead END AS days_to_renewal
    FROM (SELECT account_id,
                 date_diff('day', $day::TIMESTAMP, renewal_date::TIMESTAMP) AS ahead
          FROM accounts WHERE renewal_date IS NOT NULL
            AND account_id IN (SELECT UNNEST($ids::VARCHAR[])))"""


def days_to_renewal(connection: Any, ids: list[str], day: dt.date) -> dict[str, int]:
    """Return the days from `day` to each account's next renewal (accounts without one: none)."""
    if not ids:
        return {}
    rows = connection.execute(DAYS_TO_RENEWAL, {"day": day, "ids": ids}).fetchall()
    return {str(account): int(days) for account, days in rows if days is not None}


def renewing(connection: Any, frame: pd.DataFrame, day: dt.date, within: int) -> pd.DataFrame:
    """Keep the rows of a rule's evaluation whose renewal is 0 to `within` days after `day`.

    The days left are added to the row's values as `days_to_renewal`.
    """
    ids = [str(a) for a in frame["account_id"]]
    days = days_to_renewal(connection, ids, day)
    left = pd.Series([days.get(a) for a in ids], index=frame.index, dtype="float64")
    near = left.between(0, within)
    chosen = frame[near].copy()
    chosen["days_to_renewal"] = left[near].astype(int)
    return chosen
