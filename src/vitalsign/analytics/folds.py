"""How a backtest's figures were obtained: per snapshot date or account folds, and pooled.

A backtest fits nothing: the model's points and weights are fixed, so every row is out of
sample, unless the model was itself calibrated on these snapshots. A proposal written by
`vitalsign calibrate` says in its header which snapshots it was trained on; the rows of those
dates are then in-sample, and the backtest says so and gives the AUC of the later dates
alone. The spread is over snapshot dates (two or more) or over account folds (one date); the
pooled figure is the report's ROC-AUC (one fixed model: one scale).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.analytics.metrics import Bootstrap, Estimate, auc_estimate, roc_auc
from vitalsign.analytics.protocol import FOLDS, Spread
from vitalsign.model.loader import LoadedModel

TRAINED = re.compile(r"trained on snapshots (\d{4}-\d\d-\d\d) to\s+(?:# )?(\d{4}-\d\d-\d\d)")


@dataclass(frozen=True)
class BacktestFolds:
    """The AUC per fold (date or account fold), its spread, and any in-sample dates."""

    method: str  # "snapshot dates" or "account folds"
    how: str
    folds: list[dict[str, Any]]  # fold, rows, churned, auc
    spread: Spread
    trained: tuple[dt.date, dt.date] | None  # the model was calibrated on these snapshots
    in_sample_rows: int
    out_of_sample_auc: Estimate | None  # the rows after the training snapshots

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "method": self.method,
            "how": self.how,
            "folds": self.folds,
            "auc_over_folds": self.spread.to_dict(),
            "trained_on": None if self.trained is None else [d.isoformat() for d in self.trained],
            "in_sample_rows": self.in_sample_rows,
            "out_of_sample_auc": None
            if self.out_of_sample_auc is None
            else self.out_of_sample_auc.to_dict(),
        }


def trained_dates(model: LoadedModel) -> tuple[dt.date, dt.date] | None:
    """The snapshots a calibrated proposal was trained on, read from its file's header."""
    if model.path is None or not model.path.is_file():
        return None
    head = "".join(
        line for line in model.path.read_text().splitlines(keepends=True)[:12] if "#" in line
    )
    found = TRAINED.search(head)
    if found is None:
        return None
    return dt.date.fromisoformat(found.group(1)), dt.date.fromisoformat(found.group(2))


def _auc(part: pd.DataFrame) -> float:
    return roc_auc(-part["score"].to_numpy(dtype="float64"), part["churned"].to_numpy(dtype=bool))


def backtest_folds(
    rows: pd.DataFrame, model: LoadedModel, replicates: int, seed: int
) -> BacktestFolds:
    """AUCs per date (or account fold) of the rows: account_id, as_of, score, churned."""
    days = rows["as_of"].dt.date
    folds = []
    if days.nunique() >= 2:
        method = "snapshot dates"
        how = f"the AUC of each of the {days.nunique()} labelled snapshot dates"
        for day, part in rows.groupby(days):
            folds.append(_fold(str(day), part))
    else:
        method = "account folds"
        keys = sorted(set(rows["account_id"].astype(str)))
        count = min(FOLDS, len(keys))
        order = np.random.default_rng(seed).permutation(len(keys))
        fold_of = {key: int(order[i] % count) for i, key in enumerate(keys)}
        which = rows["account_id"].astype(str).map(fold_of)
        how = f"one snapshot date: the AUC of each of {count} account folds"
        for k in range(count):
            folds.append(_fold(f"fold {k + 1}", rows[which == k]))
    trained = trained_dates(model)
    in_sample, later = 0, None
    if trained is not None:
        inside = days <= trained[1]
        in_sample = int(inside.sum())
        after = rows[~inside]
        y = after["churned"].to_numpy(dtype=bool)
        if 0 < y.sum() < len(y):
            boot = Bootstrap.by_account(after["account_id"].to_numpy(), replicates, seed)
            later = auc_estimate(-after["score"].to_numpy(dtype="float64"), y, boot)
    return BacktestFolds(
        method,
        how,
        folds,
        Spread.of([f["auc"] for f in folds]),
        trained,
        in_sample,
        later,
    )


def _fold(name: str, part: pd.DataFrame) -> dict[str, Any]:
    auc = _auc(part) if len(part) else float("nan")
    return {
        "fold": name,
        "rows": len(part),
        "churned": int(part["churned"].sum()),
        "auc": None if not np.isfinite(auc) else round(auc, 6),
    }


def sample_text(folds: BacktestFolds) -> str:
    """One line: whether the figures are out of sample, and how they were obtained."""
    if folds.trained is None:
        return (
            "out of sample: the model's points and weights are fixed, nothing was fitted on "
            f"these rows; spread over {folds.how}"
        )
    first, last = folds.trained
    later = (
        ""
        if folds.out_of_sample_auc is None
        else f"; AUC of the later dates alone {folds.out_of_sample_auc}"
    )
    return (
        f"IN-SAMPLE for {folds.in_sample_rows} rows: this model was calibrated on the snapshots "
        f"{first} to {last} (its file says so), so only the dates after {last} are out of "
        f"sample{later}"
    )
