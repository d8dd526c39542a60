"""Churn and renewals from billing: store the billing rule's outcomes and set `churned_at`.

Run at the end of `vitalsign sync` (and by `vitalsign derive-outcomes`), in one transaction:

1. the billing rule (ingest/billing_rule.py) reads `subscriptions` as of the data's observed
   end (the latest event, ticket, invoice or subscription start; `store/data_end.py`), never
   a scheduled period end, so an export of last year is judged as of last year;
2. the outcomes it derived last time (`outcomes.derived_from = 'subscriptions'`) are replaced
   by the new ones; loaded outcomes are kept, and a derived row whose key a loaded row already
   has is left out;
3. `accounts.churned_at` follows the churns and reactivations, point-in-time
   (ingest/churn_history.py): the account's history is split at a churn (churned_at set
   from then on, so the account is not scored after it) and at a reactivation (cleared from
   then on). Only accounts billing churned or reactivated, now or last time, whose history
   differs are rewritten.

A failure anywhere rolls everything back. Docs: docs/connectors.md#churn-and-renewals-from-billing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from vitalsign.errors import VitalsignError
from vitalsign.ingest.billing_rule import (
    OUTCOME_COLUMNS,
    derive_billing_outcomes,
    read_subscriptions,
)
from vitalsign.ingest.churn_history import follow_churns
from vitalsign.ingest.runs import _hold_before_commit
from vitalsign.store.data_end import data_end
from vitalsign.store.transaction import transaction
from vitalsign.store.workspace import Workspace

DERIVED_FROM = "subscriptions"
"""The `outcomes.derived_from` value of rows the billing rule wrote."""
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

    def to_dict(self) -> dict[str, Any]:
        """The report as plain values (for --json)."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the CLI."""
        if not self.derived:
            return "Billing: derivation is off (billing.derive: false in vitalsign.yml)"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())) or "no outcomes"
        return (
            f"Billing: {kinds} ({self.added} new, {self.removed} gone); "
            f"{self.churned_accounts} account{'s' if self.churned_accounts != 1 else ''} "
            "churned, churned_at changed for "
            f"{self.churned_at_changed}"
        )


def observed_end(con: Any, canceled: list[str] | None = None) -> dt.datetime:
    """The time the rule is applied at: the data's observed end (`store.data_end`).

    Not the wall clock: on an export that ends last year, a period scheduled to end after it
    has not ended, and its successor may simply not be in the export.
    """
    try:
        return pd.Timestamp(data_end(con, canceled=canceled).at).to_pydatetime()
    except VitalsignError:  # no data at all: nothing happened after now either
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def derive_billing(workspace: Workspace, now: dt.datetime | None = None) -> BillingReport:
    """Derive outcomes and churned_at from `subscriptions` as of `now`, in one transaction.

    `now` defaults to the data's observed end (`observed_end`).

    >>> derive_billing(open_workspace("acme")).churned_accounts  # doctest: +SKIP
    3
    """
    rule = workspace.config.billing
    if not rule.derive:
        return BillingReport(derived=False)
    con = workspace.duckdb
    moment = now or observed_end(con, list(rule.canceled_statuses))
    with transaction(con):
        frame = derive_billing_outcomes(read_subscriptions(con, moment), moment, rule)
        previous: pd.DataFrame = con.execute(
            f"SELECT {', '.join(OUTCOME_COLUMNS)} FROM outcomes WHERE derived_from = ?",
            [DERIVED_FROM],
        ).df()
        inserted = _replace_outcomes(con, frame)
        changed = follow_churns(con, previous, frame, moment)
        churned = con.execute(
            "SELECT count(*) FROM accounts WHERE churned_at IS NOT NULL AND churned_at <= ?",
            [moment],
        ).fetchone()[0]
        _hold_before_commit()  # a test hook: wait here to be killed
    added, removed = _compare(previous, inserted)
    counts = {str(k): int(n) for k, n in frame["kind"].value_counts().items()}
    kept = len(frame) - len(inserted)
    return BillingReport(True, counts, added, removed, kept, int(churned), changed)


def _replace_outcomes(con: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Delete the previous derived rows, insert the new ones whose key is free; return those."""
    con.execute("DELETE FROM outcomes WHERE derived_from = ?", [DERIVED_FROM])
    rows = frame[OUTCOME_COLUMNS].astype({"arr_before": float, "arr_after": float})
    con.register(NEW_ROWS, rows)
    try:
        names = ", ".join(OUTCOME_COLUMNS)
        free: pd.DataFrame = con.execute(
            f"SELECT {names} FROM {NEW_ROWS} n WHERE NOT EXISTS (SELECT 1 FROM outcomes o "
            "WHERE o.account_id = n.account_id AND o.occurred_at = n.occurred_at "
            "AND o.kind = n.kind)"
        ).df()
    finally:
        con.unregister(NEW_ROWS)
    con.register(NEW_ROWS, free)
    try:
        con.execute(
            f"INSERT INTO outcomes ({names}, derived_from) SELECT {names}, ? FROM {NEW_ROWS}",
            [DERIVED_FROM],
        )
    finally:
        con.unregister(NEW_ROWS)
    return free


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
