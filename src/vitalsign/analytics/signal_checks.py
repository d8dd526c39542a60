"""Each signal's own power against churn, and whether its scale points the right way."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vitalsign.analytics.metrics import Bootstrap, Estimate, auc_estimate
from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    PiecewiseScale,
    Scale,
    ThresholdsScale,
)

SIGNAL_REPLICATES = 100


def declared_direction(scale: Scale | None) -> str | None:
    """Which values the scale rewards: "higher", "lower", or None (categorical, flat)."""
    if isinstance(scale, LinearScale | PercentileScale):
        return scale.better
    if isinstance(scale, BooleanScale):
        if scale.if_true == scale.if_false:
            return None
        return "higher" if scale.if_true > scale.if_false else "lower"
    if isinstance(scale, ThresholdsScale):
        first, last = scale.below, scale.steps[-1].points
        if first == last:
            return None
        return "higher" if last > first else "lower"
    if isinstance(scale, PiecewiseScale):
        first, last = scale.knots[0].points, scale.knots[-1].points
        if first == last:
            return None
        return "higher" if last > first else "lower"
    if isinstance(scale, CategoricalScale):
        return None
    return None


def _churner_side(estimate: Estimate) -> str:
    if estimate.low > 0.5:
        return "higher"
    if estimate.high < 0.5:
        return "lower"
    return "no clear difference"


def signal_table(
    raw: pd.DataFrame,
    points: pd.DataFrame,
    weights: pd.DataFrame,
    churned: np.ndarray,
    scales: dict[str, Scale | None],
    boot: Bootstrap,
) -> pd.DataFrame:
    """One row per signal: its AUC, churners' side, the scale's direction and a wrong-way flag.

    `raw_auc` is the AUC of the raw value for churn (above 0.5: churners have higher values);
    `points_auc` is the AUC of the signal's points as scored (above 0.5: its points warn of
    churn, as they should). A signal is flagged when its scale rewards the side churners are on.
    """
    small = Bootstrap(boot.clusters, boot.count, min(boot.replicates, SIGNAL_REPLICATES), boot.seed)
    labels = churned.astype(bool)
    records = []
    for name in points.columns:
        value = pd.to_numeric(raw[name], errors="coerce").to_numpy(dtype="float64")
        has_value = ~np.isnan(value)
        raw_auc = Estimate(np.nan, np.nan, np.nan)
        if has_value.sum() > 1 and len(np.unique(value[has_value])) > 1:
            raw_auc = auc_estimate(value[has_value], labels[has_value], small.subset(has_value))
        score = points[name].to_numpy(dtype="float64")
        has_points = ~np.isnan(score)
        points_auc = Estimate(np.nan, np.nan, np.nan)
        if has_points.sum() > 1 and len(np.unique(score[has_points])) > 1:
            points_auc = auc_estimate(
                -score[has_points], labels[has_points], small.subset(has_points)
            )
        declared = declared_direction(scales.get(name))
        side = _churner_side(raw_auc) if not np.isnan(raw_auc.value) else "n/a"
        wrong = (declared is not None and declared == side) or (
            declared is None and points_auc.high < 0.5
        )
        records.append(
            {
                "signal": name,
                "coverage": float(has_points.mean()) if has_points.size else 0.0,
                "mean_weight": float(np.nanmean(weights[name]))
                if weights[name].notna().any()
                else 0.0,
                "raw_auc": raw_auc.value,
                "raw_auc_low": raw_auc.low,
                "raw_auc_high": raw_auc.high,
                "churners_have": side,
                "scale_rewards": declared or "n/a",
                "points_auc": points_auc.value,
                "points_auc_low": points_auc.low,
                "points_auc_high": points_auc.high,
                "wrong_direction": bool(wrong),
            }
        )
    return pd.DataFrame(records)
