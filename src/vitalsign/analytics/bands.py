"""Churn by band (count- and ARR-weighted), monotonicity, and choosing band thresholds."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from itertools import pairwise

import numpy as np
import pandas as pd

from vitalsign.analytics.history import History
from vitalsign.analytics.outcomes import LABELLED, Outcomes, label_snapshots
from vitalsign.errors import BacktestError
from vitalsign.model.spec import Band, HealthModel


def band_table(rows: pd.DataFrame, band_order: list[str]) -> pd.DataFrame:
    """Churn per band of labelled rows (band, churned, arr), bands in `band_order`.

    Columns: band, rows, share, churned, churn_rate, lift, arr, churned_arr, arr_churn_rate,
    arr_lift. Lift is the band's churn rate over the overall rate.
    """
    arr = rows["arr"].fillna(0.0).astype("float64")
    churned = rows["churned"].astype(bool)
    frame = pd.DataFrame(
        {"band": rows["band"], "churned": churned, "arr": arr, "churned_arr": arr.where(churned, 0)}
    )
    grouped = frame.groupby("band").agg(
        rows=("churned", "size"),
        churned=("churned", "sum"),
        arr=("arr", "sum"),
        churned_arr=("churned_arr", "sum"),
    )
    grouped = grouped.reindex(band_order, fill_value=0)
    total_rows, total_churned = len(frame), float(churned.sum())
    total_arr, total_churned_arr = float(arr.sum()), float(frame["churned_arr"].sum())
    overall = total_churned / total_rows if total_rows else math.nan
    overall_arr = total_churned_arr / total_arr if total_arr else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "band": band_order,
                "rows": grouped["rows"].to_numpy(dtype="int64"),
                "share": grouped["rows"].to_numpy() / max(total_rows, 1),
                "churned": grouped["churned"].to_numpy(dtype="int64"),
                "churn_rate": grouped["churned"].to_numpy() / grouped["rows"].to_numpy(),
                "arr": grouped["arr"].to_numpy(dtype="float64"),
                "churned_arr": grouped["churned_arr"].to_numpy(dtype="float64"),
                "arr_churn_rate": grouped["churned_arr"].to_numpy() / grouped["arr"].to_numpy(),
            }
        )
    table["lift"] = table["churn_rate"] / overall if overall else math.nan
    table["arr_lift"] = table["arr_churn_rate"] / overall_arr if overall_arr else math.nan
    return table[
        [
            "band",
            "rows",
            "share",
            "churned",
            "churn_rate",
            "lift",
            "arr",
            "churned_arr",
            "arr_churn_rate",
            "arr_lift",
        ]
    ]


def is_monotone(table: pd.DataFrame, band_names: list[str]) -> bool:
    """True when each worse band (with rows) churns strictly more than the band above it."""
    rows = table.to_dict(orient="records")
    rates = [float(r["churn_rate"]) for r in rows if r["band"] in band_names and r["rows"] > 0]
    return all(later > earlier for earlier, later in pairwise(rates))


def assign_bands(scores: pd.DataFrame, model: HealthModel) -> pd.Series:
    """Band each row (score, coverage, gate_pass, flags) under `model`'s bands, as scoring does.

    Used to re-band scores after only the thresholds changed: the score is unchanged, a
    capping flag still caps, low coverage is still insufficient data.
    """
    score = scores["score"].to_numpy(dtype="float64")
    index = np.full(score.size, len(model.bands) - 1)
    for i in range(len(model.bands) - 1, -1, -1):
        index = np.where(np.nan_to_num(score, nan=-1) >= model.bands[i].min, i, index)
    raised = [json.loads(text) if text else [] for text in scores["flags"]]
    for name, flag in model.flags.items():
        if flag.cap_band is not None:
            cap = model.band_names.index(flag.cap_band)
            hit = np.array([name in flags for flags in raised], dtype=bool)
            index = np.where(hit, np.maximum(index, cap), index)
    names = np.array(model.band_names, dtype=object)[index]
    coverage = scores["coverage"].to_numpy(dtype="float64")
    insufficient = (coverage < model.min_coverage) | np.isnan(score)  # whatever the gate
    return pd.Series(np.where(insufficient, model.insufficient_band, names), index=scores.index)


def _ordered_bands(names: list[str], cuts: list[float]) -> list[Band]:
    """Bands best first from the cuts of all but the worst band (best first too)."""
    mins = [float(max(1, min(99, round(c)))) for c in cuts]
    for i in range(len(mins) - 2, -1, -1):  # keep them strictly decreasing
        mins[i] = max(mins[i], mins[i + 1] + 1)
    if mins and mins[0] > 100:
        raise BacktestError("the scores are too bunched to place distinct band thresholds")
    return [Band(name=n, min=m) for n, m in zip(names, [*mins, 0.0], strict=True)]


def thresholds_from_shares(
    scores: pd.Series, names: list[str], shares: Mapping[str, float]
) -> list[Band]:
    """Bands whose shares of `scores` (worst band first in `shares`) match the targets.

    `shares` gives, for each band but the best, the share of rows it should hold.
    """
    values = scores.dropna().to_numpy(dtype="float64")
    if values.size == 0:
        raise BacktestError("no scored rows to place band thresholds on")
    cuts, cumulative = [], 0.0
    for name in reversed(names[1:]):  # worst first
        cumulative += float(shares.get(name, 0.0))
        cuts.append(float(np.quantile(values, min(cumulative, 1.0))))
    return _ordered_bands(names, list(reversed(cuts)))


def thresholds_from_rates(
    scores: pd.Series, churned: pd.Series, names: list[str], rates: Mapping[str, float]
) -> tuple[list[Band], list[str]]:
    """Bands each of whose churn rates reaches its target, worst band first; and any notes.

    For the worst band the threshold is the highest score below which the churn rate is still
    at least its target; the next band starts there, and so on. The best band holds the rest.
    """
    frame = pd.DataFrame({"score": scores, "churned": churned.astype(bool)}).dropna()
    if frame.empty:
        raise BacktestError("no scored, labelled rows to place band thresholds on")
    notes: list[str] = []
    cuts: list[float] = []
    floor = 0.0
    for name in reversed(names[1:]):
        target = float(rates.get(name, 0.0))
        best = floor
        for t in np.arange(floor + 1, 100.0):
            inside = frame[(frame["score"] >= floor) & (frame["score"] < t)]
            if len(inside) >= 10 and inside["churned"].mean() >= target:
                best = float(t)
        if best == floor:
            notes.append(f"no threshold gives band {name!r} a churn rate of {target:.0%}")
            best = floor + 1
        cuts.append(best)
        floor = best
    return _ordered_bands(names, list(reversed(cuts))), notes


def band_shares(bands: pd.Series, names: list[str]) -> dict[str, float]:
    """The share of rows in each named band (rows in other bands are left out)."""
    inside = bands[bands.isin(names)]
    counts = inside.value_counts()
    total = max(len(inside), 1)
    return {name: float(counts.get(name, 0)) / total for name in names}


def proposed_bands(
    spec: HealthModel,
    old: History,
    new: History,
    outcomes: Outcomes,
    horizon: int,
    train_dates: list[dt.date],
    shares: Mapping[str, float] | None,
    rates: Mapping[str, float] | None,
    notes: list[str],
    held: set[str],
) -> tuple[list[Band], str]:
    """New thresholds on the training scores: target churn rates, given shares, or old shares.

    The held-out accounts take no part (their labels and scores are kept for the final check).
    """
    names = spec.band_names
    wanted = set(pd.to_datetime(pd.Series(train_dates)).astype("datetime64[ns]"))
    scores = new.scores[
        new.scores["as_of"].isin(wanted) & ~new.scores["account_id"].astype(str).isin(held)
    ]
    scores = scores[scores["computed_band"] != spec.insufficient_band]
    if rates:
        labelled = label_snapshots(scores, outcomes, horizon)
        ok = (labelled["status"] == LABELLED).to_numpy()
        bands, more = thresholds_from_rates(
            scores["score"][ok], labelled["churned"][ok], names, rates
        )
        notes.extend(more)
        rule = "target churn rates " + ", ".join(f"{k} {v:.0%}" for k, v in rates.items())
        return bands, rule
    if not shares:
        kept = old.scores["as_of"].isin(wanted) & ~old.scores["account_id"].astype(str).isin(held)
        before = old.scores[kept]["computed_band"]
        shares = band_shares(before, names)
        rule = "the old model's band shares " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    else:
        rule = "band shares " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    return thresholds_from_shares(scores["score"], names, shares), rule
