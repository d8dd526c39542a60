"""The end of the observed data: what happened, never what is scheduled.

The latest event, ticket, invoice or subscription start (or canceled subscription end) up
to the wall clock. A subscription's scheduled period end, or any row dated in the future,
is not history. Used by the backtest and `outcomes --derive` (the end of their labels) and
by the billing derivation at `sync` (the time its rule is applied at), so an export of
last year is judged as of last year, not as of today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.errors import BacktestError
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.store.workspace import BillingConfig

ACTIVITY = {  # table: the column whose newest value shows the data arrived until then
    "events": "timestamp",
    "tickets": "created_at",
    "invoices": "issued_at",
    "subscriptions": "started_at",
}
DISAGREEMENT_DAYS = 35  # tables whose newest rows are further apart than a period: warn
ACTIVITY_NAMES = {
    "events": "event",
    "tickets": "ticket",
    "invoices": "invoice",
    "subscriptions": "subscription start",
}


@dataclass(frozen=True)
class DataEnd:
    """The end of the observed data, the newest row of each activity table, and a warning."""

    at: pd.Timestamp
    newest: dict[str, pd.Timestamp]  # table -> its newest activity time (non-empty tables)
    scheduled: int  # subscriptions whose ended_at lies after `at`: scheduled, not history
    warning: str | None
    names: dict[str, str] = field(default_factory=lambda: dict(ACTIVITY_NAMES))  # for people

    def summary(self) -> str:
        """One line for the CLI: the data's end and where it comes from."""
        seen = ", ".join(f"{self.names[t]} {v:%Y-%m-%d}" for t, v in self.newest.items())
        line = f"Data ends {self.at:%Y-%m-%d %H:%M}" + (f" (latest {seen})" if seen else "")
        if self.scheduled:
            line += (
                f"; {self.scheduled} subscription period end"
                f"{'s' if self.scheduled != 1 else ''} after it "
                f"{'are' if self.scheduled != 1 else 'is'} scheduled, not history"
            )
        return line


def _newest(connection: Any, table: str, column: str, now: dt.datetime) -> pd.Timestamp | None:
    try:
        row = connection.execute(
            f"SELECT max({column}) FROM {table} WHERE {column} <= $now", {"now": now}
        ).fetchone()
    except Exception:  # noqa: BLE001 - a table this workspace does not have is empty
        return None
    return None if row is None or row[0] is None else pd.Timestamp(row[0])


def data_end(
    connection: Any, now: dt.datetime | None = None, canceled: list[str] | None = None
) -> DataEnd:
    """The end of the observed data: the latest event, ticket, invoice or subscription start.

    A subscription's `ended_at` counts only with a canceled status (it happened); otherwise
    it may be a scheduled period end. Never anything dated after
    `now` (the wall clock, UTC): those are scheduled, not history. Without any such row, the
    latest time of the other canonical tables (and `accounts.churned_at`) is used. When the
    tables' newest rows are more than DISAGREEMENT_DAYS apart, `warning` says so and how to pass
    the end with `--until`.
    """
    moment = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    newest = {
        table: found
        for table, column in ACTIVITY.items()
        if (found := _newest(connection, table, column, moment)) is not None
    }
    statuses = list(canceled if canceled is not None else BillingConfig().canceled_statuses)
    canceled_end = _newest_canceled_end(connection, moment, statuses)
    names = dict(ACTIVITY_NAMES)
    if canceled_end is not None and newest.get("subscriptions", canceled_end) <= canceled_end:
        newest["subscriptions"] = canceled_end  # a canceled subscription's end did happen
        names["subscriptions"] = "canceled subscription end"
    if newest:
        end = max(newest.values())
    else:
        others = [
            (table.name, table.time_column)
            for table in CANONICAL_TABLES.values()
            if table.time_column is not None and table.name not in ACTIVITY
        ] + [("accounts", "churned_at")]
        found_others = [_newest(connection, t, c, moment) for t, c in others]
        times = [t for t in found_others if t is not None]
        if not times:
            raise BacktestError("the workspace has no data yet; load the canonical tables first")
        end = max(times)
    warning = None
    if len(newest) > 1:
        oldest_table = min(newest, key=lambda t: newest[t])
        gap = (end - newest[oldest_table]).days
        if gap > DISAGREEMENT_DAYS:
            latest_table = max(newest, key=lambda t: newest[t])
            warning = (
                f"the tables disagree on when the data ends: the latest "
                f"{names[latest_table]} is {end:%Y-%m-%d} but the latest "
                f"{names[oldest_table]} is {newest[oldest_table]:%Y-%m-%d} ({gap} days "
                f"earlier). The data's end is taken as {end:%Y-%m-%d}. If {oldest_table} stopped "
                "arriving, its accounts look inactive after that: load the missing rows, or "
                f"pass --until {newest[oldest_table]:%Y-%m-%d} (only snapshots a horizon before "
                f"it can then be tested). If the {oldest_table} are a one-time export up to a "
                f"snapshot date and the {names[latest_table]}s were observed later (a single-"
                f"export data set), keep {end:%Y-%m-%d} or pass the day the observation ended "
                "with --until (docs/backtest.md#benchmark-datasets)"
            )
    scheduled = _count(
        connection, "SELECT count(*) FROM subscriptions WHERE ended_at > $t", {"t": end}
    )
    return DataEnd(end, newest, scheduled, warning, names)


def _newest_canceled_end(
    connection: Any, now: dt.datetime, canceled: list[str]
) -> pd.Timestamp | None:
    statuses = [s.lower() for s in canceled]
    try:
        row = connection.execute(
            "SELECT max(ended_at) FROM subscriptions WHERE ended_at <= $now "
            "AND list_contains($statuses, lower(status))",
            {"now": now, "statuses": statuses},
        ).fetchone()
    except Exception:  # noqa: BLE001 - no subscriptions table
        return None
    return None if row is None or row[0] is None else pd.Timestamp(row[0])


def _count(connection: Any, sql: str, params: dict[str, Any]) -> int:
    try:
        row = connection.execute(sql, params).fetchone()
    except Exception:  # noqa: BLE001 - no such table: nothing to count
        return 0
    return int(row[0]) if row and row[0] is not None else 0
