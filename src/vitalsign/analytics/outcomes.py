"""Outcomes: read the outcomes table, or derive it from subscriptions; label snapshots with them.

A snapshot of an account at date T (midnight) is labelled *churned within H* when the account
has a churn outcome in [T, T + H). Rows are left out when the account had already churned before
T (and was not reactivated since), and when T + H lies after the end of the observed data (the
answer is not known yet), or when a tenure of the account ended before T + H but less than the
grace period before the end of the data (it may still renew). Nothing after T + H is ever read
for a label. See docs/backtest.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.errors import BacktestError
from vitalsign.ingest.billing_rule import (
    OUTCOME_COLUMNS,
    derive_billing_outcomes,
    pending_ends,
    read_subscriptions,
)
from vitalsign.store.data_end import data_end
from vitalsign.store.transaction import transaction
from vitalsign.store.workspace import BillingConfig

OUTCOME_KINDS = ("churned", "renewed", "expanded", "contracted", "reactivated")
DEFAULT_GRACE_DAYS = 30
LABELLED, CENSORED, CHURNED_BEFORE = "labelled", "censored", "churned_before"


@dataclass(frozen=True)
class Outcomes:
    """The outcomes a backtest uses, where they came from, and when the data ends."""

    frame: pd.DataFrame  # account_id, occurred_at, kind, arr_before, arr_after
    source: str  # "outcomes table", "derived from subscriptions", "accounts.churned_at"
    observed_until: pd.Timestamp  # the data is complete up to and including this time
    activity: pd.DataFrame  # account_id, at: starts that show an account is a customer again
    pending: pd.DataFrame = field(  # account_id, occurred_at: tenure ends not yet known churns
        default_factory=lambda: pd.DataFrame(columns=["account_id", "occurred_at"])
    )
    detected_until: pd.Timestamp | None = None  # the data's own end, when --until replaced it

    @property
    def churns(self) -> pd.DataFrame:
        """Churn outcomes only: account_id, occurred_at."""
        rows = self.frame[self.frame["kind"] == "churned"]
        return rows[["account_id", "occurred_at"]].reset_index(drop=True)


def observed_until(connection: Any) -> pd.Timestamp:
    """Return the end of the observed data (`data_end`): never a scheduled period end."""
    return data_end(connection).at


def pending_churns(
    connection: Any, until: pd.Timestamp, grace_days: int = DEFAULT_GRACE_DAYS
) -> pd.DataFrame:
    """Tenures that ended less than the grace period before `until`: not yet known churns."""
    rule = BillingConfig(churn_after_days=grace_days)
    try:
        subscriptions = read_subscriptions(connection, until)
    except Exception:  # noqa: BLE001 - no subscriptions table: nothing pending
        return pd.DataFrame(columns=["account_id", "occurred_at"])
    return pending_ends(subscriptions, until, rule)


def read_outcomes(
    connection: Any,
    until: dt.datetime | pd.Timestamp | None = None,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> Outcomes:
    """Return the outcomes table, or outcomes derived from subscriptions when it is empty.

    >>> read_outcomes(open_workspace("acme").duckdb).source  # doctest: +SKIP
    'outcomes table'
    """
    end = pd.Timestamp(until) if until is not None else observed_until(connection)
    detected = _detected_end(connection) if until is not None else None
    table: pd.DataFrame = connection.execute(
        f"SELECT {', '.join(OUTCOME_COLUMNS)} FROM outcomes ORDER BY occurred_at, account_id"
    ).df()
    starts: pd.DataFrame = connection.execute(
        "SELECT account_id, started_at AS at FROM subscriptions"
    ).df()
    if not table.empty:
        frame, source = table, "outcomes table"
    else:
        frame = derive_outcomes(connection, end, grace_days)
        source = "derived from subscriptions"
        if frame.empty:
            frame = connection.execute(
                "SELECT account_id, churned_at AS occurred_at, 'churned' AS kind, "
                "arr AS arr_before, 0.0 AS arr_after FROM accounts WHERE churned_at IS NOT NULL"
            ).df()
            source = "accounts.churned_at"
    if frame.empty:
        raise BacktestError(
            "there are no outcomes to test the score against: load the outcomes table "
            "(docs/tables.md#outcomes), subscriptions with their end dates, or accounts.churned_at"
        )
    frame = frame[frame["occurred_at"] <= end].reset_index(drop=True)
    renewals = frame[frame["kind"] != "churned"][["account_id", "occurred_at"]]
    activity = pd.concat([starts, renewals.set_axis(["account_id", "at"], axis=1)])
    activity["at"] = pd.to_datetime(activity["at"])
    pending = pending_churns(connection, end, grace_days)
    if not pending.empty:  # an end the outcomes already call a churn is not pending
        churned = frame[frame["kind"] == "churned"][["account_id", "occurred_at"]]
        known = set(
            zip(
                churned["account_id"].astype(str),
                pd.to_datetime(churned["occurred_at"]),
                strict=True,
            )
        )
        keep = [
            (str(a), pd.Timestamp(t)) not in known
            for a, t in zip(pending["account_id"], pending["occurred_at"], strict=True)
        ]
        pending = pending[keep].reset_index(drop=True)
    return Outcomes(frame, source, end, activity.reset_index(drop=True), pending, detected)


def _detected_end(connection: Any) -> pd.Timestamp | None:
    """The end found in the data itself (to compare with an --until), None without data."""
    try:
        return data_end(connection).at
    except BacktestError:  # no data at all: nothing to compare --until with
        return None


def derive_outcomes(
    connection: Any, until: pd.Timestamp | None = None, grace_days: int = DEFAULT_GRACE_DAYS
) -> pd.DataFrame:
    """Derive churned, renewed, expanded, contracted and reactivated outcomes from subscriptions.

    The billing rule of `vitalsign sync` (vitalsign.ingest.billing_rule, docs/backtest.md) as of
    `until` (the end of the data by default), with a grace period of `grace_days`: a tenure's
    end is a churn once the grace period has passed before `until` (at once when canceled).
    """
    end = until if until is not None else observed_until(connection)
    rule = BillingConfig(churn_after_days=grace_days)
    return derive_billing_outcomes(read_subscriptions(connection, end), end, rule)


def write_outcomes(connection: Any, frame: pd.DataFrame) -> int:
    """Insert outcomes whose key is not in the table yet, in one transaction; return how many."""
    rows = frame[OUTCOME_COLUMNS]
    try:
        with transaction(connection):
            connection.register("_new_outcomes", rows)
            before = connection.execute("SELECT count(*) FROM outcomes").fetchone()[0]
            connection.execute(
                f"INSERT INTO outcomes ({', '.join(OUTCOME_COLUMNS)}) "
                f"SELECT {', '.join(OUTCOME_COLUMNS)} FROM _new_outcomes n WHERE NOT EXISTS "
                "(SELECT 1 FROM outcomes o WHERE o.account_id = n.account_id "
                "AND o.occurred_at = n.occurred_at AND o.kind = n.kind)"
            )
            after = connection.execute("SELECT count(*) FROM outcomes").fetchone()[0]
    finally:
        connection.unregister("_new_outcomes")
    return int(after - before)


def label_snapshots(rows: pd.DataFrame, outcomes: Outcomes, horizon_days: int) -> pd.DataFrame:
    """Add `churned`, `churn_at`, `status` and `duration` to snapshot rows (account_id, as_of).

    `status` is "labelled" (usable), "censored" (too recent: T + H after the observed data, or
    a tenure of the account ended before T + H less than the grace period before the data's end) or
    "churned_before" (the account had churned before T and not come back); `pending` marks the
    censored rows that are too recent only because of a pending tenure end. `duration` is the
    days from T to the next churn or to the end of the data (for survival curves); `event`
    says whether that end is a churn.
    """
    frame = rows[["account_id", "as_of"]].copy()
    frame["account_id"] = frame["account_id"].astype(str)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["_row"] = range(len(frame))
    churns = outcomes.churns.rename(columns={"occurred_at": "churn_time"})
    churns["churn_time"] = pd.to_datetime(churns["churn_time"]).astype("datetime64[ns]")
    churns["account_id"] = churns["account_id"].astype(str)
    churns = churns.sort_values("churn_time")
    ordered = frame.sort_values("as_of")
    after = pd.merge_asof(
        ordered,
        churns,
        left_on="as_of",
        right_on="churn_time",
        by="account_id",
        direction="forward",
        allow_exact_matches=True,
    )
    before = pd.merge_asof(
        ordered,
        churns.rename(columns={"churn_time": "prior_churn"}),
        left_on="as_of",
        right_on="prior_churn",
        by="account_id",
        direction="backward",
        allow_exact_matches=False,
    )
    activity = outcomes.activity.rename(columns={"at": "last_start"})
    activity["last_start"] = pd.to_datetime(activity["last_start"]).astype("datetime64[ns]")
    activity["account_id"] = activity["account_id"].astype(str)
    started = pd.merge_asof(
        ordered,
        activity.sort_values("last_start"),
        left_on="as_of",
        right_on="last_start",
        by="account_id",
        direction="backward",
        allow_exact_matches=False,
    )
    merged = after.merge(before[["_row", "prior_churn"]], on="_row").merge(
        started[["_row", "last_start"]], on="_row"
    )
    merged = merged.sort_values("_row").reset_index(drop=True)
    horizon = pd.Timedelta(days=horizon_days)
    end = outcomes.observed_until
    gone = merged["prior_churn"].notna() & ~(merged["last_start"] > merged["prior_churn"])
    censored = merged["as_of"] + horizon > end
    past_end = censored.to_numpy()
    if not outcomes.pending.empty:  # a tenure ended before T + H, its churn not known yet
        pending = outcomes.pending.rename(columns={"occurred_at": "pending_at"})
        pending["pending_at"] = pd.to_datetime(pending["pending_at"]).astype("datetime64[ns]")
        pending["account_id"] = pending["account_id"].astype(str)
        first = pending.groupby("account_id", as_index=False)["pending_at"].min()
        reach = merged[["account_id", "as_of"]].merge(first, on="account_id", how="left")
        censored = censored | (reach["pending_at"] < reach["as_of"] + horizon).to_numpy()
    result = rows.reset_index(drop=True).copy()
    result["churn_at"] = merged["churn_time"].to_numpy()
    result["churned"] = (merged["churn_time"] < merged["as_of"] + horizon).to_numpy()
    result["status"] = LABELLED
    result.loc[censored.to_numpy(), "status"] = CENSORED
    result.loc[gone.to_numpy(), "status"] = CHURNED_BEFORE
    # too recent only because a tenure's end is pending (not because T + H is past the end)
    result["pending"] = (result["status"] == CENSORED).to_numpy() & ~past_end
    stop = merged["churn_time"].where(merged["churn_time"] <= end, end)
    result["duration"] = ((stop - merged["as_of"]).dt.total_seconds() / 86400).to_numpy()
    result["event"] = (merged["churn_time"] <= end).to_numpy()
    return result
