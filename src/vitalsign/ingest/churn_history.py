"""Make `accounts.churned_at` and its history follow the churns and reactivations of billing.

The billing rule's outcomes give each account a timeline: churned_at = C from a churn at C
on, empty again from a reactivation on. The accounts concerned are those with a churn or a
reactivation derived now or last time; from the earliest of these times on, their history
is compared with the timeline, and only accounts whose history differs (a value that is
not the timeline's, or a version spanning one of its changes) are rewritten. Earlier
history, and accounts billing never churned, are left as they are: a churned_at set by
another source is kept unless billing churned or reactivated that account.

The rewrite goes through `store.history.apply_from`, one step per account at a time, in
time order: it splits the version in force at the step and gives the value to every later
version and to the `accounts` row. apply_from skips an account whose current value already
is the step's, so an account whose first step would not change its current value gets a
step just before it (same time) that does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from vitalsign.store.history import apply_from, reconcile_history

CHANGES = ("churned", "reactivated")
STEPS = "_vs_billing_steps"
FRAME = "_vs_billing_frame"
OPEN_END = pd.Timestamp("2200-01-01")
STEP_COLUMNS = ["account_id", "valid_from", "value", "wave"]


def follow_churns(con: Any, previous: pd.DataFrame, derived: pd.DataFrame, now: dt.datetime) -> int:
    """Rewrite churned_at where it differs from `derived`; return how many accounts changed.

    `previous` and `derived` are outcome rows (the last derivation's and this one's).
    """
    reconcile_history(con, now)  # every account has its versions before they are compared
    old, new = _timeline(previous), _timeline(derived)
    start = pd.concat([old, new]).groupby("account_id", as_index=False).agg(t0=("at", "min"))
    if start.empty:
        return 0
    history = _history(con, start)
    history["expected"] = _value_at(history, "start", new)
    wrong = history[~_same(history["churned_at"], history["expected"])]
    spanning = history.merge(new[["account_id", "at"]], on="account_id")
    spanning = spanning[(spanning["at"] > spanning["start"]) & (spanning["at"] < spanning["end"])]
    affected = set(wrong["account_id"]) | set(spanning["account_id"])
    if not affected:
        return 0
    points = pd.concat(
        [
            new.loc[new["account_id"].isin(affected), ["account_id", "at"]],
            wrong[["account_id", "start"]].rename(columns={"start": "at"}),
        ]
    ).drop_duplicates()
    steps = _steps(con, points, new)
    _apply(con, steps, now)
    return len(affected)


def _timeline(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Churns and reactivations as (account_id, at, value): churned_at is `value` from `at` on."""
    rows = outcomes[outcomes["kind"].isin(CHANGES)]
    at = pd.to_datetime(rows["occurred_at"]).astype("datetime64[us]")
    frame = pd.DataFrame(
        {
            "account_id": rows["account_id"].astype(str).to_numpy(),
            "at": at.to_numpy(),
            "value": at.where(rows["kind"] == "churned").to_numpy(),
        }
    )
    return frame.sort_values("at", kind="stable").reset_index(drop=True)


def _history(con: Any, start: pd.DataFrame) -> pd.DataFrame:
    """The versions of the accounts in `start` in force at or after their t0, with start/end."""
    con.register(FRAME, start)
    try:
        history: pd.DataFrame = con.execute(
            "SELECT h.account_id, h.valid_from, h.valid_to, h.churned_at, s.t0 "
            f"FROM account_history h JOIN {FRAME} s ON s.account_id = h.account_id "
            "WHERE h.valid_to IS NULL OR h.valid_to > s.t0"
        ).df()
    finally:
        con.unregister(FRAME)
    for column in ("valid_from", "valid_to", "churned_at", "t0"):
        history[column] = pd.to_datetime(history[column]).astype("datetime64[us]")
    history["start"] = history[["valid_from", "t0"]].max(axis=1).astype("datetime64[us]")
    history["end"] = history["valid_to"].fillna(OPEN_END).astype("datetime64[us]")
    return history


def _value_at(frame: pd.DataFrame, column: str, timeline: pd.DataFrame) -> pd.Series:
    """The timeline's value at each row's `column` time (empty before its first change)."""
    keyed = frame[["account_id", column]].reset_index().sort_values(column, kind="stable")
    found = pd.merge_asof(
        keyed, timeline, left_on=column, right_on="at", by="account_id", direction="backward"
    )
    return found.set_index("index")["value"].reindex(frame.index)


def _same(left: pd.Series, right: pd.Series) -> pd.Series:
    return (left == right) | (left.isna() & right.isna())


def _steps(con: Any, points: pd.DataFrame, timeline: pd.DataFrame) -> pd.DataFrame:
    """One step per point, with the timeline's value there, numbered in waves per account."""
    points = points.sort_values("at", kind="stable").reset_index(drop=True)
    points["value"] = _value_at(points, "at", timeline)
    current: pd.DataFrame = con.execute("SELECT account_id, churned_at FROM accounts").df()
    current["churned_at"] = pd.to_datetime(current["churned_at"]).astype("datetime64[us]")
    steps = points.merge(current, on="account_id").sort_values(["account_id", "at"])
    first = steps.groupby("account_id").head(1)
    primer = first[_same(first["value"], first["churned_at"])].copy()
    primer["value"] = primer["at"].where(primer["churned_at"].isna())  # anything but current
    steps = pd.concat([primer, steps], ignore_index=True)
    steps["order"] = range(len(steps))
    steps = steps.sort_values(["account_id", "at", "order"], kind="stable")
    steps["wave"] = steps.groupby("account_id").cumcount() + 1
    return steps.rename(columns={"at": "valid_from"})[STEP_COLUMNS]


def _apply(con: Any, steps: pd.DataFrame, now: dt.datetime) -> None:
    """Apply the steps wave by wave with apply_from."""
    con.register(FRAME, steps)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {STEPS} AS SELECT account_id, "
            "CAST(valid_from AS TIMESTAMP) AS valid_from, CAST(value AS TIMESTAMP) AS value, "
            f"CAST(wave AS INTEGER) AS wave FROM {FRAME}"
        )
    finally:
        con.unregister(FRAME)
    for wave in range(1, int(steps["wave"].max()) + 1):
        apply_from(
            con,
            f"SELECT account_id, valid_from, value FROM {STEPS} WHERE wave = {wave}",
            "churned_at",
            now,
        )
    con.execute(f"DROP TABLE IF EXISTS {STEPS}")
