"""The horizon window [T, T + H) and what to change when every outcome is still too recent.

A snapshot at T is labelled by the churns in the half-open window [T, T + H): a churn at
exactly T + H belongs to the next window, not this one. A snapshot is labelled only when
T + H is not after the end of the observed data, so a history whose snapshots all lie within
one horizon of the data's end has nothing to test; the fix is a shorter `--horizon`, an
`--until` that states a later end (when the data really runs longer than was detected), or
snapshots of earlier dates. `too_recent_fix` names the values that would work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd


def window_text(horizon_days: int) -> str:
    """Say how the window treats its ends, for reports and notes."""
    return (
        f"a snapshot at T counts churn in [T, T + {horizon_days} days): from T itself up to but "
        f"not including T + {horizon_days} days, so a churn exactly {horizon_days} days after "
        "the snapshot counts for a later snapshot, not this one"
    )


def boundary_churns(labelled: pd.DataFrame, horizon_days: int) -> int:
    """Labelled rows whose next churn falls exactly at T + H (just outside their window)."""
    if labelled.empty or "churn_at" not in labelled:
        return 0
    at = pd.to_datetime(labelled["churn_at"])
    edge = pd.to_datetime(labelled["as_of"]) + pd.Timedelta(days=horizon_days)
    return int((at == edge).sum())


def until_past_end(until: pd.Timestamp, detected: pd.Timestamp | None) -> bool:
    """Whether --until lies after the day the data's own latest row falls on."""
    if detected is None:
        return False
    return pd.Timestamp(until).normalize() > pd.Timestamp(detected).normalize() + pd.Timedelta(
        days=1
    )


def late_until_warning(until: pd.Timestamp, detected: pd.Timestamp) -> str:
    """Say what an --until after the data's detected end does, and how to undo it."""
    last = pd.Timestamp(detected)
    gap = (pd.Timestamp(until).normalize() - last.normalize()).days
    return (
        f"--until {pd.Timestamp(until):%Y-%m-%d} is {gap} days after the data's detected end, "
        f"{last:%Y-%m-%d} (its latest row; `vitalsign outcomes` shows which): a snapshot "
        f"whose window reaches past {last:%Y-%m-%d} is labelled 'did not churn' though nothing "
        f"after {last:%Y-%m-%d} was observed. Keep --until {pd.Timestamp(until):%Y-%m-%d} only "
        "if your data really runs that long (e.g. churns recorded elsewhere); otherwise leave "
        f"--until out (or pass --until {last + pd.Timedelta(days=1):%Y-%m-%d})"
    )


def rows_past_detected_end(
    rows: pd.DataFrame, detected: pd.Timestamp | None, horizon_days: int
) -> int:
    """Labelled rows whose window [T, T + H) reaches past the data's detected end."""
    if detected is None or rows.empty:
        return 0
    edge = pd.to_datetime(rows["as_of"]) + pd.Timedelta(days=horizon_days)
    return int((edge > pd.Timestamp(detected)).sum())


def too_recent_fix(
    dates: Sequence[dt.date],
    end: pd.Timestamp,
    horizon_days: int,
    today: dt.date | None = None,
) -> str:
    """Name the --horizon, --until or snapshot dates that would label some snapshots.

    An --until after `today` is not offered: the CLI refuses it (the data cannot end later).
    """
    last_day = pd.Timestamp(end).date()
    shown = f"The data ends {pd.Timestamp(end):%Y-%m-%d}"
    if not dates:
        latest = last_day - dt.timedelta(days=horizon_days)
        return (
            f"{shown}; score snapshots on or before {latest} (T + {horizon_days} days must not "
            "be after the data's end)"
        )
    first = min(dates)
    needed = first + dt.timedelta(days=horizon_days)
    longest = (last_day - first).days
    options = []
    if longest >= 1:
        options.append(
            f"--horizon {longest}d or shorter (the earliest snapshot, {first}, is {longest} "
            f"days before the data's end)"
        )
    if needed <= (today or dt.date.today()):
        options.append(
            f"--until {needed} or later if your data really runs that long (check where it "
            "ends with `vitalsign outcomes`)"
        )
    latest = last_day - dt.timedelta(days=horizon_days)
    options.append(f"snapshots on or before {latest} (e.g. `vitalsign backfill --to {latest}`)")
    after = " (every snapshot is dated after the data's end)" if first > last_day else ""
    return (
        f"{shown} and the earliest snapshot is {first}{after}, so no snapshot has its "
        f"{horizon_days}-day outcome yet (T + {horizon_days} days must not be after the "
        f"data's end); use " + ", or ".join(options)
    )
