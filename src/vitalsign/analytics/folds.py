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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.analytics.metrics import Bootstrap, Estimate, auc_estimate, roc_auc
from vitalsign.analytics.protocol import FOLDS, Spread
from vitalsign.model.loader import LoadedModel

TRAINED = re.compile(r"trained on snapshots (\d{4}-\d\d-\d\d) to\s+(?:# )?(\d{4}-\d\d-\d\d)")
PROPOSED = "Proposed by `vitalsign calibrate`"
VERDICT = re.compile(r"# (NOT SUPPORTED: .*?)\. Do not", re.S)


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


def _header(model: LoadedModel) -> str:
    """The comment lines at the top of the model's file ("" without a file)."""
    if model.path is None or not model.path.is_file():
        return ""
    lines = model.path.read_text().splitlines(keepends=True)[:12]
    return "".join(line for line in lines if "#" in line)


def trained_dates(model: LoadedModel) -> tuple[dt.date, dt.date] | None:
    """The snapshots a calibrated proposal was trained on, read from its file's header."""
    found = TRAINED.search(_header(model))
    if found is None:
        return None
    return dt.date.fromisoformat(found.group(1)), dt.date.fromisoformat(found.group(2))


def is_proposal(model: LoadedModel) -> bool:
    """Whether the model's file was written by `vitalsign calibrate` (its header says so)."""
    return PROPOSED in _header(model)


def calibrate_verdict(model: LoadedModel) -> str | None:
    """The proposal's own out-of-sample verdict when calibrate wrote one into its header."""
    found = VERDICT.search(_header(model))
    return None if found is None else " ".join(found.group(1).replace("\n#", " ").split())


def in_sample(days: pd.Series, trained: tuple[dt.date, dt.date]) -> pd.Series:
    """Which rows (by their snapshot date) fall on or before the last training snapshot."""
    return days <= trained[1]


@dataclass(frozen=True)
class Sample:
    """Whether figures over some snapshot dates are in or out of sample, and why."""

    kind: str  # "in-sample", "out-of-sample" or "unknown"
    calibrated: str | None  # the name of the model calibrated on some of these dates
    trained: tuple[dt.date, dt.date] | None
    in_sample_rows: int
    verdict: str | None  # calibrate's out-of-sample verdict from the proposal's header

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "sample": self.kind,
            "calibrated_model": self.calibrated,
            "trained_on": None if self.trained is None else [d.isoformat() for d in self.trained],
            "in_sample_rows": self.in_sample_rows,
            "calibrate_verdict": self.verdict,
        }


def sample_of(days: pd.Series, models: Sequence[LoadedModel]) -> Sample:
    """Judge rows (their snapshot dates) scored by `models`: a proposal trained on them is
    in-sample; hand-written models from files (nothing fitted) are out of sample; a proposal
    whose training dates cannot be read, or a model without a file, is unknown."""
    unknown: Sample | None = None
    for model in models:
        trained = trained_dates(model)
        if trained is not None:
            inside = int(in_sample(days, trained).sum())
            if inside:
                return Sample("in-sample", model.name, trained, inside, calibrate_verdict(model))
        elif is_proposal(model):  # written by calibrate, but its training dates are unreadable
            unknown = Sample("unknown", model.name, None, 0, calibrate_verdict(model))
        elif model.path is None and unknown is None:  # not from a file: nothing to read
            unknown = Sample("unknown", None, None, 0, None)
    return unknown or Sample("out-of-sample", None, None, 0, None)


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
    inside_rows, later = 0, None
    if trained is not None:
        inside = in_sample(days, trained)
        inside_rows = int(inside.sum())
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
        inside_rows,
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
