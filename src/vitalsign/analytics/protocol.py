"""One honest protocol for calibrate: out-of-sample figures only, per fold and pooled.

How the figures are obtained (docs/backtest.md, "Out-of-sample protocol"):

- **Held-out accounts** (`holdout_share`): a fixed, seeded share of the accounts is left out
  of everything (penalty choice, weights, folds, band thresholds) and scored once by the
  final model at the end: the one check nothing was tuned on.
- **The L2 penalty** is chosen once, per scorecard, by account-grouped cross-validation on the
  training rows (`fit_weights` without a penalty); every fold and the final model use it, so the
  folds differ only by their data, not by their penalty.
- **Out of time** (four or more labelled dates): the model is trained on the earlier dates
  and tested on the later ones; the folds are the test dates, and the pooled figure is every
  test row, already on one scale (one model scored them all).
- **Account folds** (fewer dates, e.g. one snapshot date): five account-grouped folds; each
  fold's weights are fitted on the other four and score its rows. Each fold's scores are put
  on one scale (churn probability, by a logistic fit of churn on the score over that fold's
  *training* rows) before they are pooled, so a fold whose score runs higher or lower does not
  distort the pooled AUC.
- **Weight stability**: each signal's weight over the folds (account folds) or over bootstrap
  refits of the training accounts (out of time); a weight is *unstable* when the middle 80%
  of those fits spans UNSTABLE_SPAN percentage points or more and half its mean weight,
  or gives it nothing in some fit and MIN_WEIGHT or more in another (`unstable`, in
  analytics/weight_stability.py). A signal
  whose points rank churn the wrong way round (their AUC interval below 0.5: more points,
  more churn) is flagged too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitalsign.analytics.holdout import HoldoutCheck
from vitalsign.analytics.metrics import (
    Bootstrap,
    Estimate,
    auc_estimate,
    paired_auc_difference,
    roc_auc,
)
from vitalsign.analytics.weights import Node, fit_weights, weighted_score

if TYPE_CHECKING:
    from vitalsign.analytics.weight_stability import SignalStability

Floats = npt.NDArray[np.float64]
FOLDS = 5
MIN_HOLDOUT_CHURNED = 10  # churned (and other) held-out rows the final check needs


@dataclass(frozen=True)
class CardRows:
    """The training matrix of one scorecard: points (reversed where asked), labels, accounts."""

    card: str
    mask: npt.NDArray[np.bool_]  # the scorecard's rows among the labelled rows
    points: Floats  # rows × members, 0–100, NaN where missing
    churned: Floats
    accounts: npt.NDArray[np.object_]
    tree: Node
    members: list[str]
    penalty: float
    apply: npt.NDArray[np.bool_] | None = None  # which of its rows it scores (default: all)
    relearn: Callable[[npt.NDArray[np.bool_]], Floats] | None = None  # points, scales learned
    # on the given rows only (calibrate --learn-scales: each fold learns its own)


@dataclass(frozen=True)
class Spread:
    """Mean, standard deviation and range of a figure over folds."""

    mean: float
    sd: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Spread:
        """The spread of the finite values (a fold with one class has no AUC: None or NaN)."""
        finite = np.asarray(
            [v for v in values if v is not None and math.isfinite(v)], dtype="float64"
        )
        if finite.size == 0:
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        sd = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
        return cls(float(finite.mean()), sd, float(finite.min()), float(finite.max()), finite.size)

    def __str__(self) -> str:
        if self.count == 0:
            return "n/a"
        return f"{self.mean:.3f} ± {self.sd:.3f} (range {self.low:.3f}–{self.high:.3f})"

    def to_dict(self) -> dict[str, float | int | None]:
        """Return a JSON-ready dict (NaN becomes None)."""
        return {
            "mean": finite(self.mean),
            "sd": finite(self.sd),
            "min": finite(self.low),
            "max": finite(self.high),
            "folds": self.count,
        }


@dataclass(frozen=True)
class FoldFigure:
    """One fold's out-of-sample rows and AUCs, old model and new."""

    fold: str
    rows: int
    churned: int
    old_auc: float
    new_auc: float


@dataclass(frozen=True)
class OutOfSample:
    """Every figure calibrate reports about the new weights, and how it was obtained."""

    method: str  # "out of time" or "account folds"
    how: str  # one sentence for people
    folds: list[FoldFigure]
    old_over_folds: Spread
    new_over_folds: Spread
    pooled_old: Estimate
    pooled_new: Estimate
    pooled_change: Estimate
    pooled_scale: str
    penalties: dict[str, float]
    stability: list[SignalStability]
    holdout: HoldoutCheck | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "method": self.method,
            "how": self.how,
            "folds": [f.__dict__ for f in self.folds],
            "old_auc_over_folds": self.old_over_folds.to_dict(),
            "new_auc_over_folds": self.new_over_folds.to_dict(),
            "pooled": {
                "scale": self.pooled_scale,
                "old_auc": self.pooled_old.to_dict(),
                "new_auc": self.pooled_new.to_dict(),
                "auc_change": self.pooled_change.to_dict(),
            },
            "penalties": self.penalties,
            "weight_stability": [s.to_dict() for s in self.stability],
            "holdout": None if self.holdout is None else self.holdout.to_dict(),
            "notes": self.notes,
        }


def finite(x: float) -> float | None:
    """A float for JSON: rounded to 6 decimals, None when it is not finite."""
    return None if not math.isfinite(x) else round(float(x), 6)


def percent_weights(beta: Floats) -> Floats:
    """β as % of their sum (zeros when every β is zero)."""
    total = float(beta.sum())
    out: Floats = 100 * beta / total if total > 0 else np.zeros_like(beta)
    return out


def to_probability(train_scores: Floats, train_churned: Floats, scores: Floats) -> Floats:
    """Map scores to churn probabilities by a logistic fit on training rows (one scale)."""
    from sklearn.linear_model import LogisticRegression

    ok = ~np.isnan(train_scores)
    y = train_churned[ok]
    out: Floats = np.full(scores.shape, np.nan)
    if ok.sum() < 2 or y.min() == y.max():
        return out
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(train_scores[ok, None] / 100.0, y)
    good = ~np.isnan(scores)
    out[good] = fit.predict_proba(scores[good, None] / 100.0)[:, 1]
    return out


def account_folds(
    cards: list[CardRows],
    old_scores: Floats,
    churned: npt.NDArray[np.bool_],
    accounts: npt.NDArray[np.object_],
    replicates: int,
    seed: int,
) -> tuple[OutOfSample, dict[str, list[Floats]]]:
    """Cross-validate by account: per-fold AUCs, pooled on one scale, weights per fold.

    `old_scores`, `churned` and `accounts` are over the labelled rows the cards' masks index.
    """
    n = churned.size
    fold_of = np.full(n, -1)
    codes = {a: i for i, a in enumerate(sorted({str(a) for a in accounts}))}
    count = min(FOLDS, len(codes))
    order = np.random.default_rng(seed).permutation(len(codes))
    account_fold = {a: int(order[i] % count) for a, i in codes.items()}
    fold_of = np.array([account_fold[str(a)] for a in accounts])
    probability = np.full(n, np.nan)
    per_fold: dict[str, list[Floats]] = {c.card: [] for c in cards}
    for k in range(count):
        for c in cards:
            rows = np.flatnonzero(c.mask)
            test = fold_of[rows] == k
            if not test.any() or c.churned[~test].min() == c.churned[~test].max():
                continue
            points = c.points if c.relearn is None else c.relearn(~test)
            fit = fit_weights(points[~test], c.churned[~test], c.tree, c.accounts[~test], c.penalty)
            per_fold[c.card].append(percent_weights(fit.beta))
            applies = np.ones(rows.size, dtype=bool) if c.apply is None else c.apply
            train, scored = ~test & applies, test & applies  # a fallback scores some rows
            train_scores = weighted_score(points[train], c.tree, fit.beta)
            test_scores = weighted_score(points[scored], c.tree, fit.beta)
            probability[rows[scored]] = to_probability(train_scores, c.churned[train], test_scores)
    ok = ~np.isnan(probability) & ~np.isnan(old_scores)
    if not ok.any():
        empty = Estimate(math.nan, math.nan, math.nan)
        return (
            OutOfSample(
                "account folds", "no scorecard was refitted: nothing to validate", [],
                Spread.of([]), Spread.of([]), empty, empty, empty, "none", {}, [],
            ),
            per_fold,
        )  # fmt: skip
    folds = []
    for k in range(count):
        part = ok & (fold_of == k)
        y = churned[part]
        folds.append(
            FoldFigure(
                f"fold {k + 1}",
                int(part.sum()),
                int(y.sum()),
                roc_auc(-old_scores[part], y),
                roc_auc(probability[part], y),
            )
        )
    boot = Bootstrap.by_account(accounts[ok], replicates, seed)
    old_risk, new_risk, y = -old_scores[ok], probability[ok], churned[ok]
    result = OutOfSample(
        method="account folds",
        how=f"{count} account folds (too few snapshot dates to test out of time): each fold's "
        "rows scored by weights fitted on the other folds' accounts",
        folds=folds,
        old_over_folds=Spread.of([f.old_auc for f in folds]),
        new_over_folds=Spread.of([f.new_auc for f in folds]),
        pooled_old=auc_estimate(old_risk, y, boot),
        pooled_new=auc_estimate(new_risk, y, boot),
        pooled_change=paired_auc_difference(old_risk, new_risk, y, boot),
        pooled_scale="churn probability: each fold's scores mapped by a logistic fit of churn "
        "on the score over that fold's training rows, then pooled",
        penalties={c.card: c.penalty for c in cards},
        stability=[],
    )
    return result, per_fold


def over_dates(
    rows: pd.DataFrame, replicates: int, seed: int
) -> tuple[list[FoldFigure], Estimate, Estimate, Estimate]:
    """Per-date and pooled AUCs of old and new scores on rows: as_of, churned, score_a, score_b."""
    folds = []
    for key, part in rows.groupby("as_of"):
        y = part["churned"].to_numpy(dtype=bool)
        folds.append(
            FoldFigure(
                str(pd.Timestamp(str(key)).date()),
                len(part),
                int(y.sum()),
                roc_auc(-part["score_a"].to_numpy(dtype="float64"), y),
                roc_auc(-part["score_b"].to_numpy(dtype="float64"), y),
            )
        )
    y = rows["churned"].to_numpy(dtype=bool)
    boot = Bootstrap.by_account(rows["account_id"].to_numpy(), replicates, seed)
    old = -rows["score_a"].to_numpy(dtype="float64")
    new = -rows["score_b"].to_numpy(dtype="float64")
    return (
        folds,
        auc_estimate(old, y, boot),
        auc_estimate(new, y, boot),
        paired_auc_difference(old, new, y, boot),
    )


def paired_rows(
    old: pd.DataFrame,
    new: pd.DataFrame,
    labelled_keys: pd.DataFrame,
    insufficient: str,
) -> pd.DataFrame:
    """Rows scored by both models: account_id, as_of, churned, score_a, score_b.

    `labelled_keys` holds the usable rows (account_id, as_of, churned) to keep.
    """
    keys = ["account_id", "as_of"]

    def scored(frame: pd.DataFrame) -> pd.DataFrame:
        keep = frame["score"].notna() & (frame["computed_band"] != insufficient)
        part = frame.loc[keep, [*keys, "score"]].copy()
        part["account_id"] = part["account_id"].astype(str)
        part["as_of"] = pd.to_datetime(part["as_of"]).astype("datetime64[ns]")
        return part

    base = labelled_keys[[*keys, "churned"]].copy()
    base["account_id"] = base["account_id"].astype(str)
    base["as_of"] = pd.to_datetime(base["as_of"]).astype("datetime64[ns]")
    both = base.merge(scored(old).rename(columns={"score": "score_a"}), on=keys)
    return both.merge(scored(new).rename(columns={"score": "score_b"}), on=keys)
