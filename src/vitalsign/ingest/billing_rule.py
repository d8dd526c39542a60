"""The billing rule: churns, renewals, expansions, contractions and reactivations.

One rule, read from `subscriptions`, used by `vitalsign sync` (ingest/billing.py stores the
outcomes and sets `accounts.churned_at`) and by a backtest whose outcomes table is empty
(analytics/outcomes.py). Per account, with the grace period G (`billing.churn_after_days`,
30 days) and a reference time (now at a sync, the end of the data in a backtest): rows
starting after it are ignored, and an `ended_at` after it means "not ended yet". Rows a
snapshot deleted are kept (they existed); one without `ended_at` ends at its `deleted_at`.

- A **tenure** is a run of subscriptions whose gaps are at most G. Its end is a **churn**
  once it is final: G has passed since, before the reference time, whatever its status, or
  a subscription ending that day has a canceled status (`billing.canceled_statuses`: the
  customer said so). A tenure that ended less than G before the reference time with no
  canceled status is *pending* (`pending_ends`): a backtest leaves out the snapshots whose
  horizon reaches it as too recent. A later tenure (it starts more than
  G after a churn) begins with a **reactivation**.
- Inside a tenure, the subscriptions ending on one day are **renewed** when others start
  within G of that day (before or after it); each new subscription renews the nearest such
  day. ARR before and after are 12 × the summed MRR of the ended and of the new ones, so a
  plan and its add-ons renewed together are compared as one total; when the totals differ by
  more than 0.1 % an **expanded** or **contracted** row is added at the same time.
- Subscriptions ending on a day without a replacement are a **contraction**; ones starting
  after the tenure's first day that renew nothing (add-ons) an **expansion**; their ARR
  before and after are the account's totals just before and just after.

Docs: docs/connectors.md#churn-and-renewals-from-billing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from vitalsign.store.workspace import BillingConfig

OUTCOME_COLUMNS = ["account_id", "occurred_at", "kind", "arr_before", "arr_after"]
OPEN_END = pd.Timestamp("2200-01-01")  # the end of a subscription that has not ended
TOLERANCE = 0.001  # totals closer than 0.1 % count as unchanged
TENURE = ["account_id", "tenure"]


def read_subscriptions(connection: Any, as_of: dt.datetime | pd.Timestamp) -> pd.DataFrame:
    """Return the subscriptions started at `as_of`; an end after it is left empty.

    Subscriptions a snapshot marked deleted are kept: they existed, and billing exports often
    list current subscriptions only, so a cancelled one vanishes once it ended. One without
    `ended_at` ended, at the latest, when it vanished (`deleted_at`).
    """
    moment = pd.Timestamp(as_of).to_pydatetime()
    frame: pd.DataFrame = connection.execute(
        "SELECT subscription_id, account_id, started_at, "
        "CASE WHEN coalesce(ended_at, deleted_at) <= $t "
        "THEN coalesce(ended_at, deleted_at) END AS ended_at, "
        "lower(coalesce(status, '')) AS status, CAST(mrr AS DOUBLE) AS mrr "
        "FROM subscriptions WHERE started_at <= $t "
        "ORDER BY account_id, started_at, subscription_id",
        {"t": moment},
    ).df()
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def derive_billing_outcomes(
    subscriptions: pd.DataFrame, as_of: dt.datetime | pd.Timestamp, rule: BillingConfig
) -> pd.DataFrame:
    """Apply the billing rule to `subscriptions` (as `read_subscriptions` returns them).

    Returns outcome rows (account_id, occurred_at, kind, arr_before, arr_after), one per key.
    """
    if subscriptions.empty:
        return pd.DataFrame(columns=OUTCOME_COLUMNS)
    grace = pd.Timedelta(days=rule.churn_after_days)
    subs = _tenures(subscriptions, grace)
    statuses = {s.lower() for s in rule.canceled_statuses}
    days = _ending_days(subs)
    replacing = _replacements(subs, days, grace)
    parts = [
        _churns(subs, pd.Timestamp(as_of), grace, statuses),
        _reactivations(subs),
        *_renewals(subs, days, replacing),
        _added(subs, replacing),
    ]
    frame = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    keys = ["account_id", "occurred_at", "kind"]
    frame = frame.groupby(keys, as_index=False)[["arr_before", "arr_after"]].sum(min_count=1)
    frame = frame.sort_values(["occurred_at", "account_id", "kind"], kind="stable")
    return frame.reset_index(drop=True)[OUTCOME_COLUMNS]


def _tenures(subscriptions: pd.DataFrame, grace: pd.Timedelta) -> pd.DataFrame:
    """Number each account's tenures; add their first start, last end and first-ness."""
    subs = subscriptions.sort_values(["account_id", "started_at", "subscription_id"])
    subs = subs.reset_index(drop=True)
    subs["end"] = subs["ended_at"].fillna(OPEN_END)
    by_account = subs.groupby("account_id", sort=False)
    reach = by_account["end"].cummax().groupby(subs["account_id"], sort=False).shift()
    subs["tenure"] = (reach.isna() | (subs["started_at"] > reach + grace)).cumsum()
    by_tenure = subs.groupby("tenure", sort=False)
    subs["tenure_start"] = by_tenure["started_at"].transform("min")
    subs["tenure_end"] = by_tenure["end"].transform("max")
    first = subs.groupby("account_id", sort=False)["tenure"].transform("min")
    subs["first_tenure"] = subs["tenure"] == first
    subs["start_day"] = subs["started_at"].dt.normalize()
    subs["end_day"] = subs["ended_at"].dt.normalize()
    return subs


def _sum(frame: pd.DataFrame, keys: list[str], column: str = "mrr") -> pd.Series:
    """The sum of `column` per group; empty (NaN) when every value is unknown."""
    return frame.groupby(keys, sort=False)[column].sum(min_count=1)


def _rows(frame: pd.DataFrame, kind: str, before: pd.Series, after: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": frame["account_id"].to_numpy(),
            "occurred_at": frame["occurred_at"].to_numpy(),
            "kind": kind,
            "arr_before": before.to_numpy(dtype=float),
            "arr_after": after.to_numpy(dtype=float),
        }
    )


def _tenure_ends(
    subs: pd.DataFrame, as_of: pd.Timestamp, grace: pd.Timedelta, statuses: set[str]
) -> pd.DataFrame:
    """The end of each ended tenure (TENURE, occurred_at, mrr) and whether it is `final`.

    Final: the grace period has passed by `as_of`, or a subscription ending that day has a
    canceled status. Not final yet: the customer may still renew (a pending end).
    """
    last = subs[
        (subs["tenure_end"] < OPEN_END) & (subs["end_day"] == subs["tenure_end"].dt.normalize())
    ].assign(canceled=lambda f: f["status"].isin(statuses))
    ends = last.groupby(TENURE, sort=False).agg(
        occurred_at=("tenure_end", "max"), canceled=("canceled", "max")
    )
    ends["mrr"] = _sum(last, TENURE)
    ends["final"] = ends["canceled"] | (ends["occurred_at"] + grace <= as_of)
    result: pd.DataFrame = ends.reset_index()
    return result


def _churns(
    subs: pd.DataFrame, as_of: pd.Timestamp, grace: pd.Timedelta, statuses: set[str]
) -> pd.DataFrame:
    """The final ends of tenures: churns."""
    ends = _tenure_ends(subs, as_of, grace, statuses)
    ends = ends[ends["final"]].reset_index(drop=True)
    return _rows(ends, "churned", ends["mrr"] * 12, pd.Series(0.0, index=ends.index))


def pending_ends(
    subscriptions: pd.DataFrame, as_of: dt.datetime | pd.Timestamp, rule: BillingConfig
) -> pd.DataFrame:
    """Tenures that ended less than the grace period before `as_of`: not known to be churns yet.

    Returns account_id, occurred_at (the tenure's end), one row per pending end. A backtest
    leaves out the snapshots whose horizon reaches one (too recent to know their outcome).
    """
    columns = ["account_id", "occurred_at"]
    if subscriptions.empty:
        return pd.DataFrame(columns=columns)
    grace = pd.Timedelta(days=rule.churn_after_days)
    subs = _tenures(subscriptions, grace)
    statuses = {s.lower() for s in rule.canceled_statuses}
    ends = _tenure_ends(subs, pd.Timestamp(as_of), grace, statuses)
    return ends.loc[~ends["final"], columns].reset_index(drop=True)


def _reactivations(subs: pd.DataFrame) -> pd.DataFrame:
    """The start of every tenure after an account's first: a customer again after a churn."""
    first = subs[~subs["first_tenure"] & (subs["start_day"] == subs["tenure_start"].dt.normalize())]
    starts = first.groupby(TENURE, sort=False).agg(occurred_at=("tenure_start", "min"))
    starts["mrr"] = _sum(first, TENURE)
    starts = starts.reset_index()
    return _rows(starts, "reactivated", pd.Series(0.0, index=starts.index), starts["mrr"] * 12)


def _ending_days(subs: pd.DataFrame) -> pd.DataFrame:
    """Each day on which subscriptions of a tenure ended while the tenure went on."""
    ended = subs[subs["ended_at"].notna() & (subs["end_day"] < subs["tenure_end"].dt.normalize())]
    keys = [*TENURE, "end_day"]
    days = ended.groupby(keys, sort=False).agg(
        occurred_at=("ended_at", "min"),
        last_end=("ended_at", "max"),
        first_start=("started_at", "min"),
    )
    days["before"] = _sum(ended, keys)
    result: pd.DataFrame = days.reset_index()
    return result


def _replacements(subs: pd.DataFrame, days: pd.DataFrame, grace: pd.Timedelta) -> pd.DataFrame:
    """Each subscription that renews an ending day: the nearest day within the grace period.

    It must start after the ended subscriptions began and outlive them.
    """
    candidates = days.merge(
        subs[[*TENURE, "subscription_id", "started_at", "end", "mrr"]], on=TENURE
    )
    gap = (candidates["started_at"] - candidates["occurred_at"]).abs()
    candidates = candidates[
        (gap <= grace)
        & (candidates["started_at"] > candidates["first_start"])
        & (candidates["end"] > candidates["last_end"])
    ].assign(gap=gap)
    ordered = candidates.sort_values(["subscription_id", "gap", "occurred_at"], kind="stable")
    return ordered.drop_duplicates("subscription_id")


def _renewals(
    subs: pd.DataFrame, days: pd.DataFrame, replacing: pd.DataFrame
) -> list[pd.DataFrame]:
    """Renewals (with an expansion or contraction when the totals moved) and plain drops."""
    keys = [*TENURE, "end_day"]
    renewed_days = replacing.groupby(keys, sort=False).agg(count=("subscription_id", "size"))
    renewed_days["after"] = _sum(replacing, keys)
    days = days.merge(renewed_days.reset_index(), on=keys, how="left")
    renewed = days[days["count"].notna()].reset_index(drop=True)
    before, after = renewed["before"] * 12, renewed["after"] * 12
    rows = [_rows(renewed, "renewed", before, after)]
    for kind, moved in (
        ("expanded", after > before * (1 + TOLERANCE)),
        ("contracted", after < before * (1 - TOLERANCE)),
    ):
        rows.append(_rows(renewed[moved], kind, before[moved], after[moved]))
    dropped = days[days["count"].isna()].rename(columns={"last_end": "until"})
    rows.append(_account_change(subs, dropped, "contracted"))
    return rows


def _added(subs: pd.DataFrame, replacing: pd.DataFrame) -> pd.DataFrame:
    """Subscriptions started after a tenure's first day that renew nothing: add-ons."""
    added = subs[
        (subs["start_day"] > subs["tenure_start"].dt.normalize())
        & ~subs["subscription_id"].isin(replacing["subscription_id"])
    ]
    days = added.groupby([*TENURE, "start_day"], sort=False).agg(
        occurred_at=("started_at", "min"), until=("started_at", "max")
    )
    return _account_change(subs, days.reset_index(), "expanded")


def _account_change(subs: pd.DataFrame, points: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Rows of `kind` with the account's ARR just before `occurred_at` and just after `until`."""
    if points.empty:
        return pd.DataFrame(columns=OUTCOME_COLUMNS)
    points = points[["account_id", "occurred_at", "until"]].drop_duplicates()
    joined = points.merge(subs[["account_id", "started_at", "end", "mrr"]], on="account_id")
    t, u = joined["occurred_at"], joined["until"]
    totals = {}
    for side, running in (
        ("before", (joined["started_at"] < t) & (joined["end"] >= t)),
        ("after", (joined["started_at"] <= u) & (joined["end"] > u)),
    ):
        joined[side] = joined["mrr"].fillna(0.0).where(running, 0.0)
        joined[f"{side}_unknown"] = running & joined["mrr"].isna()
        totals[side] = joined.groupby(["account_id", "occurred_at"], sort=False).agg(
            total=(side, "sum"), unknown=(f"{side}_unknown", "max")
        )
    before, after = totals["before"], totals["after"]
    frame = before.index.to_frame(index=False)
    return _rows(
        frame,
        kind,
        before["total"].where(~before["unknown"]).reset_index(drop=True) * 12,
        after["total"].where(~after["unknown"]).reset_index(drop=True) * 12,
    )
