"""Churn and renewals from billing: store the billing rule's outcomes and set `churned_at`.

Run at the end of `vitalsign sync` (and by `vitalsign derive-outcomes`), in one transaction:

1. the billing rule (ingest/billing_rule.py) reads `subscriptions` as of now;
2. the outcomes it derived last time (`outcomes.derived_from = 'subscriptions'`) are replaced
   by the new ones; loaded outcomes are kept, and a derived row whose key a loaded row already
   has is left out;
3. `accounts.churned_at` follows the churns and reactivations, point-in-time: through
   `store.history.apply_from`, the account's history is split at the churn (churned_at set
   from then on, so the account is not scored after it) and at a reactivation (cleared from
   then on). Only accounts whose derived churns changed, or whose churned_at disagrees with a
   derived churn, are touched; a churned_at set by another source is cleared only when the
   billing rule set it.

A failure anywhere rolls everything back. Docs: docs/connectors.md#churn-and-renewals-from-billing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.ingest.billing_rule import (
    OUTCOME_COLUMNS,
    derive_billing_outcomes,
    read_subscriptions,
)
from vitalsign.ingest.runs import _hold_before_commit
from vitalsign.store.history import apply_from
from vitalsign.store.transaction import transaction
from vitalsign.store.workspace import Workspace

DERIVED_FROM = "subscriptions"
"""The `outcomes.derived_from` value of rows the billing rule wrote."""
CHANGES = ("churned", "reactivated")
STEPS = "_vs_billing_steps"
NEW_ROWS = "_vs_billing_outcomes"


@dataclass(frozen=True)
class BillingReport:
    """What one derivation did.

    `outcomes` counts the derived rows by kind; `added` and `removed` compare them with the
    previous derivation; `kept_loaded` counts derived rows left out because a loaded row has
    their key; `churned_at_changed` counts accounts whose churned_at history was rewritten.
    """

    derived: bool = True
    outcomes: dict[str, int] = field(default_factory=dict)
    added: int = 0
    removed: int = 0
    kept_loaded: int = 0
    churned_accounts: int = 0
    churned_at_changed: int = 0

    def summary(self) -> str:
        """One line for the CLI."""
        if not self.derived:
            return "Billing: derivation is off (billing.derive: false in vitalsign.yml)"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())) or "no outcomes"
        return (
            f"Billing: {kinds} ({self.added} new, {self.removed} gone); "
            f"{self.churned_accounts} accounts churned, churned_at changed for "
            f"{self.churned_at_changed}"
        )


def derive_billing(workspace: Workspace, now: dt.datetime | None = None) -> BillingReport:
    """Derive outcomes and churned_at from `subscriptions` as of `now`, in one transaction.

    >>> derive_billing(open_workspace("acme")).churned_accounts  # doctest: +SKIP
    3
    """
    rule = workspace.config.billing
    if not rule.derive:
        return BillingReport(derived=False)
    moment = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = workspace.duckdb
    with transaction(con):
        frame = derive_billing_outcomes(read_subscriptions(con, moment), moment, rule)
        previous: pd.DataFrame = con.execute(
            f"SELECT {', '.join(OUTCOME_COLUMNS)} FROM outcomes WHERE derived_from = ?",
            [DERIVED_FROM],
        ).df()
        kept = _replace_outcomes(con, frame)
        steps = _churn_steps(con, previous, frame)
        changed = _apply_steps(con, steps, moment)
        churned = con.execute(
            "SELECT count(*) FROM accounts WHERE churned_at IS NOT NULL AND churned_at <= ?",
            [moment],
        ).fetchone()[0]
        _hold_before_commit()  # a test hook: wait here to be killed
    added, removed = _compare(previous, frame)
    counts = {str(k): int(n) for k, n in frame["kind"].value_counts().items()}
    return BillingReport(True, counts, added, removed, kept, int(churned), changed)


def _replace_outcomes(con: Any, frame: pd.DataFrame) -> int:
    """Delete the previous derived rows, insert the new ones whose key is free; return skipped."""
    con.execute("DELETE FROM outcomes WHERE derived_from = ?", [DERIVED_FROM])
    rows = frame[OUTCOME_COLUMNS].astype({"arr_before": float, "arr_after": float})
    con.register(NEW_ROWS, rows)
    try:
        names = ", ".join(OUTCOME_COLUMNS)
        free = (
            f"FROM {NEW_ROWS} n WHERE NOT EXISTS (SELECT 1 FROM outcomes o WHERE "
            "o.account_id = n.account_id AND o.occurred_at = n.occurred_at AND o.kind = n.kind)"
        )
        inserted = con.execute(
            f"INSERT INTO outcomes ({names}, derived_from) SELECT {names}, ? {free}",
            [DERIVED_FROM],
        ).fetchone()[0]
    finally:
        con.unregister(NEW_ROWS)
    return len(rows) - int(inserted)


def _compare(previous: pd.DataFrame, frame: pd.DataFrame) -> tuple[int, int]:
    """Rows new since the previous derivation, and rows gone from it."""
    keys = ["account_id", "occurred_at", "kind"]

    def keyed(rows: pd.DataFrame) -> set[tuple[Any, ...]]:
        return set(
            zip(
                rows["account_id"].astype(str),
                pd.to_datetime(rows["occurred_at"]),
                rows["kind"].astype(str),
                strict=True,
            )
        )

    old, new = keyed(previous[keys]), keyed(frame[keys])
    return len(new - old), len(old - new)


def _changes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Churns and reactivations as (account_id, at, value): churned_at from `at` on."""
    rows = outcomes[outcomes["kind"].isin(CHANGES)]
    at = pd.to_datetime(rows["occurred_at"]).astype("datetime64[us]")
    return pd.DataFrame(
        {
            "account_id": rows["account_id"].astype(str).to_numpy(),
            "at": at.to_numpy(),
            "value": at.where(rows["kind"] == "churned").to_numpy(),
        }
    )


def _churn_steps(con: Any, previous: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The (account_id, valid_from, value, wave) steps that make churned_at follow `frame`.

    Accounts whose derived churns and reactivations changed since `previous`, or whose
    churned_at is not the derived churn they are in, get a step at every time either
    derivation changed churned_at, carrying the new derivation's value there. Steps are
    applied one wave at a time, in time order; a first step that would not change the current
    value is preceded by one that does, so apply_from rewrites the history from there on.
    """
    old, new = _changes(previous), _changes(frame)
    current = con.execute("SELECT account_id, churned_at FROM accounts").df()
    current["churned_at"] = pd.to_datetime(current["churned_at"]).astype("datetime64[us]")
    last = new.sort_values("at", kind="stable").groupby("account_id").tail(1)
    latest = last.merge(current, on="account_id")
    disagree = latest[latest["value"].notna() & (latest["value"] != latest["churned_at"])]
    moved = _differing(old, new)
    affected = set(disagree["account_id"]) | moved
    if not affected:
        return pd.DataFrame(columns=["account_id", "valid_from", "value", "wave"])
    times = pd.concat([old, new])[["account_id", "at"]]
    times = times[times["account_id"].isin(affected)].drop_duplicates()
    times = times.sort_values("at", kind="stable").reset_index(drop=True)
    ordered = new.sort_values("at", kind="stable")
    steps = pd.merge_asof(times, ordered, on="at", by="account_id", direction="backward")
    steps = steps.merge(current, on="account_id").sort_values(["account_id", "at"])
    first = steps.groupby("account_id").head(1)
    unchanged = (first["value"] == first["churned_at"]) | (
        first["value"].isna() & first["churned_at"].isna()
    )
    primer = first[unchanged].copy()
    primer["value"] = primer["at"].where(primer["churned_at"].isna())  # anything but current
    steps = pd.concat([primer, steps], ignore_index=True)
    steps["order"] = range(len(steps))
    steps = steps.sort_values(["account_id", "at", "order"], kind="stable")
    steps["wave"] = steps.groupby("account_id").cumcount() + 1
    return steps.rename(columns={"at": "valid_from"})[["account_id", "valid_from", "value", "wave"]]


def _differing(old: pd.DataFrame, new: pd.DataFrame) -> set[str]:
    """Accounts whose churns and reactivations differ between two derivations."""
    both = old.merge(new, on=["account_id", "at"], how="outer", indicator=True)
    values_differ = (both["_merge"] != "both") | ~(
        (both["value_x"] == both["value_y"]) | (both["value_x"].isna() & both["value_y"].isna())
    )
    return set(both.loc[values_differ, "account_id"])


def _apply_steps(con: Any, steps: pd.DataFrame, now: dt.datetime) -> int:
    """Apply the steps wave by wave with apply_from; return how many accounts changed."""
    if steps.empty:
        return 0
    con.register("_vs_billing_frame", steps)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {STEPS} AS SELECT account_id, "
            "CAST(valid_from AS TIMESTAMP) AS valid_from, CAST(value AS TIMESTAMP) AS value, "
            "CAST(wave AS INTEGER) AS wave FROM _vs_billing_frame"
        )
    finally:
        con.unregister("_vs_billing_frame")
    for wave in range(1, int(steps["wave"].max()) + 1):
        apply_from(
            con,
            f"SELECT account_id, valid_from, value FROM {STEPS} WHERE wave = {wave}",
            "churned_at",
            now,
        )
    con.execute(f"DROP TABLE IF EXISTS {STEPS}")
    return int(steps["account_id"].nunique())
