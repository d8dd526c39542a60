"""Accounts kept out of everything by calibrate, and the final check on them.

`--holdout-accounts SHARE` leaves a fixed, seeded share of the accounts out of the penalty
choice, the weights, the folds and the band thresholds; the final model scores them once at
the end (docs/backtest.md, "Out-of-sample protocol").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.analytics.metrics import Bootstrap, Estimate, auc_estimate, paired_auc_difference


@dataclass(frozen=True)
class HoldoutCheck:
    """The final model on accounts left out of everything, against the old model."""

    share: float
    accounts: int
    rows: int
    churned: int
    old_auc: Estimate
    new_auc: Estimate
    change: Estimate

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "share": self.share,
            "accounts": self.accounts,
            "rows": self.rows,
            "churned": self.churned,
            "old_auc": self.old_auc.to_dict(),
            "new_auc": self.new_auc.to_dict(),
            "auc_change": self.change.to_dict(),
        }


def holdout_accounts(accounts: Sequence[str], share: float, seed: int) -> set[str]:
    """A fixed, seeded share of the accounts, kept out of everything for the final check."""
    if share <= 0:
        return set()
    unique = np.array(sorted({str(a) for a in accounts}), dtype=object)
    count = round(share * unique.size)
    rng = np.random.default_rng(seed + 7919)  # not the bootstrap's stream
    return set(rng.permutation(unique)[:count].tolist())


def holdout_check(rows: pd.DataFrame, share: float, replicates: int, seed: int) -> HoldoutCheck:
    """The old and the final model on the held-out accounts' rows (see `paired_rows`)."""
    y = rows["churned"].to_numpy(dtype=bool)
    boot = Bootstrap.by_account(rows["account_id"].to_numpy(), replicates, seed)
    old = -rows["score_a"].to_numpy(dtype="float64")
    new = -rows["score_b"].to_numpy(dtype="float64")
    return HoldoutCheck(
        share,
        int(rows["account_id"].nunique()),
        len(rows),
        int(y.sum()),
        auc_estimate(old, y, boot),
        auc_estimate(new, y, boot),
        paired_auc_difference(old, new, y, boot),
    )
