"""Kaplan–Meier survival curves per band (lifelines): how long accounts of each band stay."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

GRID_STEP_DAYS = 7


@dataclass(frozen=True)
class SurvivalCurves:
    """Survival probability per band on a grid of days after the snapshot."""

    curves: pd.DataFrame  # band, days, survival, low, high
    at_horizon: pd.DataFrame  # band, rows, churns, survival (at the horizon), median_days
    horizon_days: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""

        def clean(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {
                    str(k): (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in r.items()
                }
                for r in frame.to_dict(orient="records")
            ]

        return {
            "horizon_days": self.horizon_days,
            "at_horizon": clean(self.at_horizon),
            "curves": clean(self.curves),
        }


def survival_by_band(
    rows: pd.DataFrame, band_order: list[str], horizon_days: int, max_days: int = 365
) -> SurvivalCurves:
    """Fit one Kaplan–Meier curve per band on snapshot rows (band, duration, event).

    Every (account, snapshot) row starts a clock at its snapshot date; it stops at the
    account's next churn (an event) or at the end of the data (censored). Rows of the same
    account on several dates are pooled, so the intervals are narrower than they should be.
    """
    grid = np.arange(0, max_days + 1, GRID_STEP_DAYS, dtype="float64")
    curves: list[pd.DataFrame] = []
    summary: list[dict[str, Any]] = []
    for band in band_order:
        part = rows[(rows["band"] == band) & (rows["duration"] >= 0)]
        if part.empty:
            continue
        fitter = KaplanMeierFitter()
        fitter.fit(part["duration"].clip(lower=0.0), event_observed=part["event"].astype(bool))
        reach = float(part["duration"].max())
        days = grid[grid <= reach]
        survival = fitter.survival_function_at_times(days).to_numpy()
        interval = fitter.confidence_interval_survival_function_
        step = np.clip(np.searchsorted(interval.index.to_numpy(), days, side="right") - 1, 0, None)
        low = interval.iloc[:, 0].to_numpy()[step]
        high = interval.iloc[:, 1].to_numpy()[step]
        curves.append(
            pd.DataFrame(
                {"band": band, "days": days, "survival": survival, "low": low, "high": high}
            )
        )
        at_h = (
            float(fitter.survival_function_at_times([horizon_days]).iloc[0])
            if reach >= horizon_days
            else math.nan
        )
        median = float(fitter.median_survival_time_)
        summary.append(
            {
                "band": band,
                "rows": len(part),
                "churns": int(part["event"].sum()),
                "survival": at_h,
                "median_days": median if math.isfinite(median) else math.nan,
            }
        )
    columns = ["band", "days", "survival", "low", "high"]
    return SurvivalCurves(
        pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=columns),
        pd.DataFrame(summary, columns=["band", "rows", "churns", "survival", "median_days"]),
        horizon_days,
    )
