"""CSM gut versus the score: agreement between ratings and bands, and who predicted churn better."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from vitalsign.analytics.metrics import (
    Bootstrap,
    Estimate,
    Floats,
    auc_estimate,
    paired_auc_difference,
)

LEVELS = ["green", "yellow", "red"]
RISK = {"green": 0.0, "yellow": 1.0, "red": 2.0}
DEFAULT_RATING_WINDOW_DAYS = 120


@dataclass(frozen=True)
class CsmAgreement:
    """How CSM ratings and score bands agree, and which predicted churn better."""

    rows: int  # labelled snapshot rows with a CSM rating in the window
    confusion: pd.DataFrame  # index: CSM rating, columns: the score's level (green/yellow/red)
    kappa: float
    weighted_kappa: float
    churn_by_rating: pd.DataFrame  # level, csm_rows, csm_churn_rate, band_rows, band_churn_rate
    csm_auc: Estimate
    band_auc: Estimate
    score_auc: Estimate
    score_minus_csm: Estimate
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "rows": self.rows,
            "confusion": {
                str(i): {str(c): int(v) for c, v in row.items()}
                for i, row in self.confusion.iterrows()
            },
            "kappa": None if np.isnan(self.kappa) else round(self.kappa, 4),
            "weighted_kappa": None
            if np.isnan(self.weighted_kappa)
            else round(self.weighted_kappa, 4),
            "churn_by_rating": self.churn_by_rating.replace({np.nan: None}).to_dict(
                orient="records"
            ),
            "csm_auc": self.csm_auc.to_dict(),
            "band_auc": self.band_auc.to_dict(),
            "score_auc": self.score_auc.to_dict(),
            "score_minus_csm_auc": self.score_minus_csm.to_dict(),
            "verdict": self.verdict,
        }


def band_levels(bands: pd.Series, band_names: list[str]) -> pd.Series:
    """Map bands to green/yellow/red by position: best is green, worst is red, the rest yellow."""
    last = len(band_names) - 1
    level = {
        name: ("green" if i == 0 else "red" if i == last else "yellow")
        for i, name in enumerate(band_names)
    }
    return bands.map(level)


def latest_ratings(
    rows: pd.DataFrame, ratings: pd.DataFrame, window_days: int = DEFAULT_RATING_WINDOW_DAYS
) -> pd.Series:
    """The latest rating of each row's account before its snapshot, within the window."""
    keyed = rows[["account_id", "as_of"]].copy()
    keyed["_row"] = np.arange(len(keyed))
    keyed["as_of"] = keyed["as_of"].astype("datetime64[ns]")
    rated = ratings[["account_id", "rated_at", "rating"]].copy()
    rated["rated_at"] = pd.to_datetime(rated["rated_at"]).astype("datetime64[ns]")
    rated["rating"] = rated["rating"].astype(str).str.strip().str.lower()
    merged = pd.merge_asof(
        keyed.sort_values("as_of"),
        rated.sort_values("rated_at"),
        left_on="as_of",
        right_on="rated_at",
        by="account_id",
        direction="backward",
        allow_exact_matches=False,
        tolerance=pd.Timedelta(days=window_days),
    ).sort_values("_row")
    rating = merged["rating"].where(merged["rating"].isin(LEVELS))
    return pd.Series(rating.to_numpy(), index=rows.index)


def _verdict(difference: Estimate) -> str:
    if difference.low > 0:
        return "the score predicted churn better than the CSMs' ratings"
    if difference.high < 0:
        return "the CSMs' ratings predicted churn better than the score"
    return "no clear difference between the score and the CSMs' ratings"


def csm_agreement(
    rows: pd.DataFrame,
    ratings: pd.DataFrame,
    band_names: list[str],
    boot: Bootstrap,
    window_days: int = DEFAULT_RATING_WINDOW_DAYS,
) -> CsmAgreement | None:
    """Compare CSM ratings with bands on labelled rows (account_id, as_of, band, score, churned).

    Returns None when no row has a rating in the window.
    """
    rating = latest_ratings(rows, ratings, window_days)
    level = band_levels(rows["band"], band_names)
    usable = (rating.notna() & level.notna() & rows["score"].notna()).to_numpy()
    if usable.sum() == 0:
        return None
    csm, mine = rating[usable].astype(str), level[usable].astype(str)
    churned = rows["churned"].to_numpy(dtype=bool)[usable]
    confusion = pd.crosstab(csm, mine).reindex(index=LEVELS, columns=LEVELS, fill_value=0)
    confusion.index.name, confusion.columns.name = "csm", "score"
    agree = len(set(csm) | set(mine)) > 1
    kappa = float(cohen_kappa_score(csm, mine, labels=LEVELS)) if agree else np.nan
    weighted = (
        float(cohen_kappa_score(csm, mine, labels=LEVELS, weights="linear")) if agree else np.nan
    )
    sub = boot.subset(usable)
    csm_risk: Floats = np.asarray(csm.map(RISK), dtype=np.float64)
    band_risk: Floats = np.asarray(mine.map(RISK), dtype=np.float64)
    score_risk: Floats = -rows["score"].to_numpy(dtype="float64")[usable]
    difference = paired_auc_difference(csm_risk, score_risk, churned, sub)
    frame = pd.DataFrame({"csm": csm.to_numpy(), "band": mine.to_numpy(), "churned": churned})
    by_csm = frame.groupby("csm")["churned"].agg(["size", "mean"]).reindex(LEVELS)
    by_band = frame.groupby("band")["churned"].agg(["size", "mean"]).reindex(LEVELS)
    churn = pd.DataFrame(
        {
            "level": LEVELS,
            "csm_rows": by_csm["size"].fillna(0).astype(int).to_numpy(),
            "csm_churn_rate": by_csm["mean"].to_numpy(),
            "band_rows": by_band["size"].fillna(0).astype(int).to_numpy(),
            "band_churn_rate": by_band["mean"].to_numpy(),
        }
    )
    return CsmAgreement(
        rows=int(usable.sum()),
        confusion=confusion,
        kappa=kappa,
        weighted_kappa=weighted,
        churn_by_rating=churn,
        csm_auc=auc_estimate(csm_risk, churned, sub),
        band_auc=auc_estimate(band_risk, churned, sub),
        score_auc=auc_estimate(score_risk, churned, sub),
        score_minus_csm=difference,
        verdict=_verdict(difference),
    )
