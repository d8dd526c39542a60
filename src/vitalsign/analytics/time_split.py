"""Calibrate's out-of-time split, and which --horizon values make one possible.

Calibrate trains on earlier snapshot dates and tests on later ones, with one horizon between
the last training date and the first test date, so no training label sees the test period.
That needs at least two training dates a horizon before a test date, and every date must be
labelled (T + H not after the data's end). With fewer than MIN_DATES_OUT_OF_TIME labelled
dates it cross-validates by account instead. `out_of_time_fix` computes, from the scored
snapshot dates and the data's end, which horizons give either, so the error names them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import pandas as pd

MIN_DATES_OUT_OF_TIME = 4  # fewer labelled snapshot dates: cross-validate by account


def split_dates(
    dates: Sequence[dt.date], horizon: int, test_share: float, split: dt.date | None
) -> tuple[list[dt.date], list[dt.date]]:
    """Earlier dates to train on, later ones to test on, one horizon apart."""
    if split is None:
        count = max(1, math.ceil(len(dates) * test_share))
        split = dates[-count]
    test = [d for d in dates if d >= split]
    train = [d for d in dates if d + dt.timedelta(days=horizon) <= split]
    return train, test


def labelled_dates(dates: Sequence[dt.date], end: pd.Timestamp, horizon: int) -> list[dt.date]:
    """The snapshot dates whose outcome window [T, T + horizon) ends by the data's end."""
    stop = pd.Timestamp(end)
    return sorted(d for d in dates if pd.Timestamp(d) + pd.Timedelta(days=horizon) <= stop)


def splits(
    dates: Sequence[dt.date], horizon: int, test_share: float, split: dt.date | None
) -> bool:
    """Whether the labelled `dates` give two training dates and a test date one horizon apart."""
    if not dates:
        return False
    train, test = split_dates(dates, horizon, test_share, split)
    return len(train) >= 2 and bool(test)


def longest_out_of_time(
    dates: Sequence[dt.date],
    end: pd.Timestamp,
    below: int,
    test_share: float,
    split: dt.date | None,
) -> int | None:
    """The longest horizon under `below` days that calibrate can test out of time, if any."""
    for horizon in range(below - 1, 0, -1):
        labelled = labelled_dates(dates, end, horizon)
        if len(labelled) >= MIN_DATES_OUT_OF_TIME and splits(labelled, horizon, test_share, split):
            return horizon
    return None


def account_fold_horizons(dates: Sequence[dt.date], end: pd.Timestamp) -> tuple[int, int] | None:
    """The shortest and longest horizon leaving 1 to MIN_DATES_OUT_OF_TIME - 1 labelled dates."""
    stop = pd.Timestamp(end)
    ahead = sorted((stop - pd.Timestamp(d)).days for d in dates if pd.Timestamp(d) < stop)
    if not ahead:
        return None
    # horizon h labels the dates at least h days before the end; the k-th furthest decides
    longest = ahead[-1]
    shortest = ahead[-MIN_DATES_OUT_OF_TIME] + 1 if len(ahead) >= MIN_DATES_OUT_OF_TIME else 1
    return (shortest, longest) if shortest <= longest else None


def single_share(labelled: Sequence[dt.date]) -> str:
    """A --test-share that holds out only the latest of the labelled dates."""
    return f"{max(math.floor(1000 / max(len(labelled), 1)) / 1000, 0.001):g}"


def out_of_time_fix(
    dates: Sequence[dt.date],
    end: pd.Timestamp,
    horizon_days: int,
    test_share: float,
    split: dt.date | None,
) -> str:
    """Say why no out-of-time split exists and which --horizon, --test-share or dates work.

    `dates` are the scored snapshot dates (labelled or not); `end` is the data's end.
    """
    labelled = labelled_dates(dates, end, horizon_days)
    first, last = (labelled[0], labelled[-1]) if labelled else (min(dates), max(dates))
    chosen = f"--split {split}" if split else f"--test-share {test_share}"
    text = (
        f"the history is too short to train on earlier and test on later snapshots with a "
        f"{horizon_days}-day gap: {len(labelled)} labelled snapshot dates, {first} to {last} "
        f"(the data ends {pd.Timestamp(end):%Y-%m-%d}), and out of time needs two training "
        f"dates at least {horizon_days} days before a test date. "
    )
    if split is None and len(labelled) > 1 and splits(labelled, horizon_days, 0.0, None):
        return text + (
            f"With {chosen} too few dates are left to train on; a single test date works "
            f"(--test-share {single_share(labelled)} or lower)"
        )
    options = []
    current = longest_out_of_time(dates, end, horizon_days, test_share, split)
    single = longest_out_of_time(dates, end, horizon_days, 0.0, None) if split is None else None
    if current is not None:
        options.append(f"--horizon {current}d or shorter (tested out of time with {chosen})")
    if single is not None and (current is None or single > current):
        share = single_share(labelled_dates(dates, end, single))
        options.append(f"--horizon {single}d or shorter with one test date (--test-share {share})")
    folds = account_fold_horizons(dates, end)
    if folds is not None and folds[1] > horizon_days:
        low, high = max(folds[0], horizon_days + 1), folds[1]
        options.append(
            f"--horizon {low}d to {high}d, which leaves fewer than {MIN_DATES_OUT_OF_TIME} "
            "labelled dates, so calibrate cross-validates by account instead of out of time"
        )
    earliest = last - dt.timedelta(days=horizon_days)
    options.append(
        f"snapshots of at least two dates on or before {earliest} (e.g. `vitalsign backfill "
        f"--from {earliest - dt.timedelta(days=7 * 8)} --to {earliest}`), if the data goes back "
        "that far"
    )
    lower = "; lowering --test-share does not help" if single is None or single == current else ""
    return text + "Use " + ", or ".join(options) + lower
