"""The expansion score: the model's second score kind, how likely an account is to grow.

It reads the same signal frame as the health score (so the same point-in-time rules, stale
tables and manual-signal overrides apply) and is the weighted mean of the points of the
signals listed under the model's `expansion:` key, renormalised over the signals with data.
Higher means more likely to grow. Each signal's contribution (effective weight × points)
adds up to the score. Below `expansion.min_coverage` the score is missing. docs/model.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vitalsign.engine.points import fill_missing, to_points
from vitalsign.engine.signals import signal_column
from vitalsign.model.spec import Expansion, HealthModel, PercentileScale

EXPANSION_COLUMNS = ["account_id", "as_of", "score", "coverage"]
POINTS, WEIGHT = "points__", "weight__"  # prefixes of each signal's columns


def expansion_points(frame: pd.DataFrame, model: HealthModel) -> pd.DataFrame:
    """Return each expansion signal's points (after its missing policy), one column per signal.

    Percentile scales rank the accounts of the same date and segment together, as the health
    score does.
    """
    expansion = _section(model)
    groups = None
    if any(isinstance(model.signals[s].scale, PercentileScale) for s in expansion.signals):
        groups = frame["as_of"].astype(str) + "\x00" + frame["model_segment"].astype(str)
    columns: dict[str, np.ndarray] = {}
    for name in expansion.signals:
        signal = model.signals[name]
        assert signal.scale is not None  # check_model refuses a signal without one
        raw = frame[signal_column(name)].reset_index(drop=True)
        keys = None if groups is None else groups.reset_index(drop=True)
        points = to_points(raw, signal.scale, keys).to_numpy(dtype="float64")
        columns[name] = fill_missing(points, signal)
    return pd.DataFrame(columns, index=range(len(frame)))


def weighted(points: pd.DataFrame, expansion: Expansion) -> tuple[np.ndarray, ...]:
    """Return score, coverage and the effective weights (rows × signals) of `points`."""
    nominal = np.array([w if w is not None else 1.0 for w in expansion.signals.values()])
    values = points[list(expansion.signals)].to_numpy(dtype="float64")
    present = ~np.isnan(values)
    available = present @ nominal
    coverage = np.round(available / nominal.sum(), 10)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(present, nominal, 0.0) / available[:, None]
    shares[available == 0] = 0.0
    score = (np.nan_to_num(values) * shares).sum(axis=1)
    score[(available == 0) | (coverage < expansion.min_coverage)] = np.nan
    return score, coverage, shares


def expansion_scores(frame: pd.DataFrame, model: HealthModel) -> pd.DataFrame:
    """Return the expansion score of every row of a signal frame, vectorised.

    Columns: EXPANSION_COLUMNS, then per signal `points__<name>` (NaN without data) and
    `weight__<name>` (its effective weight; the weights of a row add up to 1, and points ×
    weight add up to the score). The store turns them into one JSON column.
    """
    expansion = _section(model)
    points = expansion_points(frame, model)
    score, coverage, shares = weighted(points, expansion)
    columns: dict[str, object] = {
        "account_id": frame["account_id"].astype(str).to_numpy(),
        "as_of": pd.to_datetime(frame["as_of"]).to_numpy(),
        "score": score,
        "coverage": coverage,
    }
    for i, name in enumerate(expansion.signals):
        columns[f"{POINTS}{name}"] = points[name].to_numpy(dtype="float64")
        columns[f"{WEIGHT}{name}"] = shares[:, i]
    return pd.DataFrame(columns)


def _section(model: HealthModel) -> Expansion:
    if model.expansion is None:
        raise ValueError("the model has no `expansion:` section")  # a caller's bug
    return model.expansion


def expansion_of_scored(
    frame: pd.DataFrame, scores: pd.DataFrame, model: HealthModel
) -> pd.DataFrame:
    """Return the expansion scores of the rows of `frame` that have a health score."""
    keys = scores[["account_id", "as_of"]].assign(
        account_id=lambda f: f["account_id"].astype(str),
        as_of=lambda f: pd.to_datetime(f["as_of"]).astype("datetime64[ns]"),
    )
    result = expansion_scores(frame, model)
    result["as_of"] = result["as_of"].astype("datetime64[ns]")
    return keys.merge(result, on=["account_id", "as_of"], how="inner")
