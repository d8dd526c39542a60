"""Whether calibrate's weights can be trusted: each signal's weight over fits, and its direction.

A weight is *unstable* when the middle 80% of its fits (the account folds, or bootstrap refits
of the training accounts out of time) spans UNSTABLE_SPAN percentage points or more and half
its mean weight, or when it gets nothing in some fit and MIN_WEIGHT or more in another. A
signal whose points rank churn the wrong way round (their AUC interval below 0.5) is flagged
too (docs/backtest.md, "Out-of-sample protocol").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vitalsign.analytics.metrics import Bootstrap, Estimate, auc_estimate
from vitalsign.analytics.protocol import CardRows, Floats, Spread, finite, percent_weights
from vitalsign.analytics.weights import fit_weights

BOOTSTRAP_FITS = 20  # refits of the training accounts for weight stability, out of time
UNSTABLE_SPAN = 10.0  # percentage points across the middle 80% of the fitted weights
MIN_WEIGHT = 5.0  # a weight this large in one fit and zero in another is unstable
DIRECTION_REPLICATES = 100


@dataclass(frozen=True)
class SignalStability:
    """One signal's weight in the final fit and over the folds or bootstrap refits."""

    scorecard: str
    signal: str
    weight: float  # % of the scorecard in the final fit
    spread: Spread  # of the weight (%) over the folds or refits
    points_auc: Estimate  # AUC of the signal's points for churn (risk = fewer points)
    reversed: bool
    flags: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "scorecard": self.scorecard,
            "signal": self.signal,
            "weight": finite(self.weight),
            "over_fits": self.spread.to_dict(),
            "points_auc": self.points_auc.to_dict(),
            "reversed": self.reversed,
            "flags": self.flags,
        }


def bootstrap_weights(cards: list[CardRows], seed: int) -> dict[str, list[Floats]]:
    """Weights (%) refitted on BOOTSTRAP_FITS resamples of the training accounts."""
    rng = np.random.default_rng(seed + 104729)
    out: dict[str, list[Floats]] = {}
    for c in cards:
        keys = np.array(sorted({str(a) for a in c.accounts}), dtype=object)
        index = {a: np.flatnonzero(c.accounts.astype(str) == a) for a in keys}
        fits = []
        for _ in range(BOOTSTRAP_FITS):
            drawn = rng.choice(keys, size=keys.size, replace=True)
            rows = np.concatenate([index[a] for a in drawn])
            if c.churned[rows].min() == c.churned[rows].max():
                continue
            fit = fit_weights(c.points[rows], c.churned[rows], c.tree, c.accounts[rows], c.penalty)
            fits.append(percent_weights(fit.beta))
        out[c.card] = fits
    return out


def unstable(fits: Sequence[float], final: float) -> str | None:
    """Say why a weight is unstable over its fits (and the final fit), or None.

    The middle 80% of the fits spans UNSTABLE_SPAN points or more and at least half the mean
    weight, or the signal gets nothing in some fit (a tenth of
    the fits, or the final one) and MIN_WEIGHT or more in another.
    """
    if not fits:
        return None
    low, high = (float(v) for v in np.percentile(np.asarray(fits, dtype="float64"), [10, 90]))
    mean = float(np.mean(fits))
    seen = [low, high, *([final] if math.isfinite(final) else [])]
    if high - low >= max(UNSTABLE_SPAN, mean / 2) or (min(seen) < 0.5 and max(seen) >= MIN_WEIGHT):
        shown = "" if not math.isfinite(final) else f", {final:.0f}% in the final fit"
        return f"unstable: {low:.0f}%–{high:.0f}% over the middle 80% of the fits{shown}"
    return None


def stability(
    cards: list[CardRows],
    final: dict[str, dict[str, float]],
    fits: dict[str, list[Floats]],
    reversed_signals: set[str],
    seed: int,
) -> list[SignalStability]:
    """Each signal's weight spread over fits, and whether its points agree with churn."""
    out = []
    for c in cards:
        weights = np.array(fits.get(c.card, []))
        boot = Bootstrap.by_account(c.accounts, DIRECTION_REPLICATES, seed)
        labels = c.churned.astype(bool)
        for j, name in enumerate(c.members):
            values = weights[:, j].tolist() if weights.size else []
            spread = Spread.of(values)
            value = c.points[:, j]  # the model's own points, before any reversal
            value = 100.0 - value if name in reversed_signals else value
            ok = ~np.isnan(value)
            points_auc = (
                auc_estimate(-value[ok], labels[ok], boot.subset(ok))
                if ok.sum() > 1 and len(np.unique(value[ok])) > 1
                else Estimate(math.nan, math.nan, math.nan)
            )
            flags = []
            weight = final.get(c.card, {}).get(name, math.nan)
            note = unstable(values, weight)
            if note:
                flags.append(note)
            if points_auc.high < 0.5:
                flags.append(
                    "points disagree with churn: accounts with more points churn more"
                    + (" (reversed in the proposal)" if name in reversed_signals else "")
                )
            out.append(
                SignalStability(
                    c.card, name, weight, spread, points_auc, name in reversed_signals, flags
                )
            )
    return out
