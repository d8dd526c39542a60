"""Accounts a snapshot leaves out, and why: not a customer yet, churned before, or deleted.

Scoring a date T takes the accounts created before T and not churned (or deleted) before it
(engine/signals.py). The rest are counted here so `vitalsign score` can say how many were left
out and why, instead of printing a smaller number without a word.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vitalsign.model.canonical import DELETED_AT


@dataclass(frozen=True)
class Unscored:
    """How many of the loaded accounts a snapshot of `day` leaves out, by reason."""

    day: dt.date
    loaded: int
    created_on_or_after: int  # created_at >= T: not a customer yet on that date
    churned_before: int  # churned_at < T
    deleted: int  # deleted_at <= T (the connector saw it removed)

    @property
    def total(self) -> int:
        """Accounts left out for any of the reasons."""
        return self.created_on_or_after + self.churned_before + self.deleted

    def lines(self) -> list[str]:
        """One line per reason that left accounts out, each saying what to do about it."""
        out = []
        if self.created_on_or_after:
            out.append(
                f"Not scored: {self.created_on_or_after} of {self.loaded} loaded accounts were "
                f"created on or after {self.day} (created_at >= the date: not customers yet); "
                "score a later --as-of to include them"
            )
        if self.churned_before:
            out.append(
                f"Not scored: {self.churned_before} of {self.loaded} loaded accounts churned "
                f"before {self.day} (churned_at < the date)"
            )
        if self.deleted:
            out.append(
                f"Not scored: {self.deleted} of {self.loaded} loaded accounts were deleted "
                f"by {self.day} ({DELETED_AT} <= the date)"
            )
        return out


def unscored_accounts(connection: Any, day: dt.date) -> Unscored:
    """Count the accounts a snapshot of `day` leaves out, by reason (each counted once).

    >>> unscored_accounts(ws.duckdb, dt.date(2024, 3, 1)).created_on_or_after  # doctest: +SKIP
    1
    """
    columns = {row[0] for row in connection.execute("DESCRIBE accounts").fetchall()}
    moment = dt.datetime.combine(day, dt.time())
    deleted = (
        f"count(*) FILTER (WHERE created_at < $t AND (churned_at IS NULL OR churned_at >= $t) "
        f"AND {DELETED_AT} <= $t)"
        if DELETED_AT in columns
        else "0"
    )
    loaded, created, churned, gone = connection.execute(
        "SELECT count(*), "
        "count(*) FILTER (WHERE created_at >= $t OR created_at IS NULL), "
        "count(*) FILTER (WHERE created_at < $t AND churned_at < $t), "
        f"{deleted} FROM accounts",
        {"t": moment},
    ).fetchone()
    return Unscored(day, int(loaded), int(created), int(churned), int(gone))
