"""The out-of-sample figures calibrate reports about its proposal, and how they were obtained.

Out of time (the split's later dates, one model scoring every test row) or by account folds
(analytics/protocol.py), then the held-out accounts' final check and each signal's weight
stability (analytics/weight_stability.py): docs/backtest.md, "Out-of-sample protocol".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from vitalsign.analytics.history import History
from vitalsign.analytics.holdout import holdout_check
from vitalsign.analytics.protocol import (
    MIN_HOLDOUT_CHURNED,
    CardRows,
    OutOfSample,
    Spread,
    account_folds,
    over_dates,
    paired_rows,
)
from vitalsign.analytics.weight_stability import bootstrap_weights, stability
from vitalsign.errors import BacktestError


def out_of_sample(
    labelled: pd.DataFrame,
    usable: pd.Series,
    old: History,
    final: History,
    cards: list[CardRows],
    weights: Mapping[str, Mapping[str, float]],
    reversed_signals: set[str],
    held: set[str],
    split: tuple[list[dt.date], list[dt.date]] | None,
    holdout_share: float,
    replicates: int,
    seed: int,
) -> OutOfSample:
    """The out-of-sample figures: out of time when `split` is given, else by account folds."""
    insufficient = old.model.spec.insufficient_band
    pairs = paired_rows(old.scores, final.scores, labelled[usable], insufficient)
    if split is not None:
        train_dates, test_dates = split
        wanted = set(pd.to_datetime(pd.Series(test_dates)).astype("datetime64[ns]"))
        pairs = pairs[pairs["as_of"].isin(wanted)]
        tested = pairs[~pairs["account_id"].isin(held)]
        if tested.empty:
            raise BacktestError("no scored rows on the test dates to validate the proposal on")
        folds, pooled_old, pooled_new, change = over_dates(tested, replicates, seed)
        protocol = OutOfSample(
            method="out of time",
            how=f"trained on the snapshots {train_dates[0]} to {train_dates[-1]}, tested on "
            f"the later ones, {test_dates[0]} to {test_dates[-1]} (at least one horizon "
            "after the last training snapshot); the folds are the test dates",
            folds=folds,
            old_over_folds=Spread.of([f.old_auc for f in folds]),
            new_over_folds=Spread.of([f.new_auc for f in folds]),
            pooled_old=pooled_old,
            pooled_new=pooled_new,
            pooled_change=change,
            pooled_scale="one model scored every test row, so its scores are on one scale",
            penalties={c.card: c.penalty for c in cards},
            stability=[],
        )
        fits = bootstrap_weights(cards, seed)
    else:
        protocol, fits = account_folds(  # the cards' masks index every labelled row
            cards,
            labelled["score"].to_numpy(dtype="float64"),
            labelled["churned"].to_numpy(dtype=bool),
            labelled["account_id"].astype(str).to_numpy(dtype=object),
            replicates,
            seed,
        )
    held_rows = pairs[pairs["account_id"].isin(held)]
    check, notes = None, list(protocol.notes)
    positives = int(held_rows["churned"].sum())
    if min(positives, len(held_rows) - positives) >= MIN_HOLDOUT_CHURNED:
        check = holdout_check(held_rows, holdout_share, replicates, seed)
    elif held:
        notes.append(holdout_too_small(held_rows, positives, holdout_share, split))
    final_weights = {card: dict(w) for card, w in weights.items()}
    return replace(
        protocol,
        stability=stability(cards, final_weights, fits, reversed_signals, seed),
        holdout=check,
        notes=notes,
    )


def holdout_too_small(
    held_rows: pd.DataFrame,
    positives: int,
    share: float,
    split: tuple[list[dt.date], list[dt.date]] | None,
) -> str:
    """Why the held-out accounts give no AUC: which of their rows count, and what would do."""
    fewest = min(positives, len(held_rows) - positives)
    accounts = int(held_rows["account_id"].nunique())
    if split is not None:
        test = split[1]
        where = (
            f"on the {len(test)} test dates {test[0]} to {test[-1]} (out of time only the "
            "test dates' rows are checked; their training-date rows are left out)"
        )
        more = ", or test on more dates (a larger --test-share or an earlier --split)"
    else:
        where = "on the labelled snapshot dates"
        more = ""
    larger = "hold out a larger share"
    if fewest > 0:  # churn grows about in proportion to the share held out
        needed = math.ceil(share * MIN_HOLDOUT_CHURNED / fewest * 10) / 10
        if needed < 1:
            larger += f" (about --holdout-accounts {needed:g} for {MIN_HOLDOUT_CHURNED})"
    return (
        f"held-out accounts: {accounts} accounts, {len(held_rows)} rows {where}, {positives} "
        f"churned: too few (fewer than {MIN_HOLDOUT_CHURNED} churned or not churned) for an "
        f"AUC; {larger}{more}"
    )
