"""Band churn rates drifting: each band's churn rate this quarter against last quarter's.

A band's meaning is its churn rate: if red accounts churned 30% of the time last quarter and
12% this quarter, the band no longer says what people read into it. Each rate gets a 95%
interval by the account bootstrap (`metrics.Bootstrap`, one draw of accounts shared by both
quarters, since the same accounts appear in both), and so does the change; a band is
*drifting* when the interval of its change excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.analytics.metrics import Bootstrap, Estimate

MIN_ROWS = 10  # a quarter's band with fewer labelled rows has no rate worth reading


@dataclass(frozen=True)
class BandDrift:
    """One band's churn rate last quarter and this quarter, and the change."""

    band: str
    last_rows: int
    last_churned: int
    last_rate: Estimate
    this_rows: int
    this_churned: int
    this_rate: Estimate
    change: Estimate  # this − last

    @property
    def drifting(self) -> bool:
        """True when the change's interval excludes 0."""
        return not math.isnan(self.change.low) and not self.change.contains(0.0)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "band": self.band,
            "last_rows": self.last_rows,
            "last_churned": self.last_churned,
            "last_rate": self.last_rate.to_dict(),
            "this_rows": self.this_rows,
            "this_churned": self.this_churned,
            "this_rate": self.this_rate.to_dict(),
            "change": self.change.to_dict(),
            "drifting": self.drifting,
        }


def _interval(point: float, reps: np.ndarray) -> Estimate:
    finite = reps[np.isfinite(reps)]
    if math.isnan(point) or finite.size < 10:
        return Estimate(point, math.nan, math.nan)
    low, high = np.percentile(finite, [2.5, 97.5])
    return Estimate(point, float(low), float(high))


def band_drift(
    rows: pd.DataFrame, bands: list[str], replicates: int = 200, seed: int = 0
) -> list[BandDrift]:
    """Churn rate per band in each quarter with intervals, from labelled rows.

    `rows` holds account_id, band, churned (bool) and quarter ("last" or "this").
    """
    accounts = rows["account_id"].astype(str).to_numpy()
    churned = rows["churned"].to_numpy(dtype=bool).astype("float64")
    boot = Bootstrap.by_account(accounts, replicates, seed)
    weights = np.concatenate(boot.weights()) if replicates and len(rows) else np.empty((0, 0))
    out = []
    for band in bands:
        masks = {
            q: ((rows["band"] == band) & (rows["quarter"] == q)).to_numpy()
            for q in ("last", "this")
        }
        points, reps = {}, {}
        for q, mask in masks.items():
            n = int(mask.sum())
            points[q] = float(churned[mask].mean()) if n >= MIN_ROWS else math.nan
            if weights.size and n >= MIN_ROWS:
                w = weights[:, mask]
                with np.errstate(invalid="ignore", divide="ignore"):
                    reps[q] = (w * churned[mask]).sum(axis=1) / w.sum(axis=1)
            else:
                reps[q] = np.full(max(replicates, 1), np.nan)
        out.append(
            BandDrift(
                band,
                int(masks["last"].sum()),
                int(churned[masks["last"]].sum()),
                _interval(points["last"], reps["last"]),
                int(masks["this"].sum()),
                int(churned[masks["this"]].sum()),
                _interval(points["this"], reps["this"]),
                _interval(points["this"] - points["last"], reps["this"] - reps["last"]),
            )
        )
    return out
