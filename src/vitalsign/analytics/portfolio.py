"""The portfolio at a glance: bands by count and ARR, by segment and owner, and movers."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.engine.snapshots import read_scores, resolve_date, snapshot_dates
from vitalsign.model.spec import HealthModel


@dataclass(frozen=True)
class PortfolioReport:
    """Band distribution, breakdowns, movers and accounts with too little data."""

    model_name: str
    as_of: dt.date
    previous: dt.date | None
    band_order: list[str]
    at_risk_band: str
    bands: pd.DataFrame  # band, accounts, account_share, arr, arr_share
    by_segment: pd.DataFrame  # segment, band, accounts, arr
    by_owner: pd.DataFrame  # owner, band, accounts, arr
    movers: pd.DataFrame  # account_id, name, owner, previous_score, score, delta, ...
    insufficient: pd.DataFrame  # account_id, name, owner, coverage
    # account_id, name, owner, score, band, computed_band: where an override sets the band
    overrides: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def total_accounts(self) -> int:
        """Accounts scored in the snapshot."""
        return int(self.bands["accounts"].sum())

    @property
    def arr_at_risk(self) -> float:
        """ARR of the accounts in the worst band."""
        rows = self.bands[self.bands["band"] == self.at_risk_band]
        return float(rows["arr"].sum())

    @property
    def headline(self) -> str:
        """One sentence: "80% green, 10% yellow, 10% red; $1,200,000 ARR at risk"."""
        if not self.total_accounts:
            return f"No accounts scored on {self.as_of}"
        shares = ", ".join(
            f"{row.account_share:.0%} {row.band}"
            for row in self.bands.itertuples(index=False)
            if row.accounts
        )
        return f"{shares}; ${self.arr_at_risk:,.0f} ARR at risk ({self.at_risk_band})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = json.loads(
                frame.to_json(orient="records", date_format="iso")
            )
            return rows

        return {
            "model": self.model_name,
            "as_of": self.as_of.isoformat(),
            "previous": self.previous.isoformat() if self.previous else None,
            "headline": self.headline,
            "accounts": self.total_accounts,
            "arr_at_risk": self.arr_at_risk,
            "bands": records(self.bands),
            "by_segment": records(self.by_segment),
            "by_owner": records(self.by_owner),
            "movers": records(self.movers),
            "insufficient_data": records(self.insufficient),
            "overrides": records(self.overrides),
        }

    def to_csv_frame(self) -> pd.DataFrame:
        """Return every section as one long table with a `section` column."""
        parts = [
            self.bands.assign(section="bands", key="all"),
            self.by_segment.rename(columns={"segment": "key"}).assign(section="segment"),
            self.by_owner.rename(columns={"owner": "key"}).assign(section="owner"),
            self.movers.assign(section="movers", key=self.movers.get("account_id")),
            self.insufficient.assign(
                section="insufficient_data", key=self.insufficient.get("account_id")
            ),
            self.overrides.assign(section="overrides", key=self.overrides.get("account_id")),
        ]
        frame = pd.concat([p for p in parts if not p.empty], ignore_index=True)
        first = ["section", "key"]
        return frame[first + [c for c in frame.columns if c not in first]]


def _breakdown(scores: pd.DataFrame, by: str, order: list[str]) -> pd.DataFrame:
    frame = scores.assign(**{by: scores[by].fillna("(none)")})
    grouped = frame.groupby([by, "band"], observed=True).agg(
        accounts=("account_id", "size"), arr=("arr", "sum")
    )
    table = grouped.reset_index()
    table["band_rank"] = table["band"].map({b: i for i, b in enumerate(order)})
    return table.sort_values([by, "band_rank"]).drop(columns="band_rank").reset_index(drop=True)


def portfolio_report(
    connection: Any, model: HealthModel, as_of: dt.date | None = None, movers: int = 10
) -> PortfolioReport:
    """Build the portfolio report of the snapshot on `as_of` (default: the latest).

    >>> portfolio_report(ws.duckdb, ws.load_model().spec).headline  # doctest: +SKIP
    '71% green, 17% yellow, 12% red; $4,210,000 ARR at risk (red)'
    """
    day = resolve_date(connection, model.name, as_of)
    scores = read_scores(connection, model.name, day)
    scores["arr"] = scores["arr"].fillna(0.0)
    order = [*model.band_names, model.insufficient_band]
    counts = scores.groupby("band").agg(accounts=("account_id", "size"), arr=("arr", "sum"))
    bands = counts.reindex(order, fill_value=0).reset_index().rename(columns={"index": "band"})
    bands = bands.rename(columns={bands.columns[0]: "band"})
    total, total_arr = max(len(scores), 1), max(float(scores["arr"].sum()), 1e-9)
    bands["account_share"] = bands["accounts"] / total
    bands["arr_share"] = bands["arr"] / total_arr
    earlier = [d for d in snapshot_dates(connection, model.name) if d < day]
    previous = earlier[-1] if earlier else None
    mover_frame = pd.DataFrame(
        columns=[
            "account_id",
            "name",
            "owner",
            "previous_score",
            "score",
            "delta",
            "previous_band",
            "band",
        ]
    )
    if previous is not None:
        before = read_scores(connection, model.name, previous)[["account_id", "score", "band"]]
        joined = scores.merge(before, on="account_id", suffixes=("", "_before"))
        joined["delta"] = joined["score"] - joined["score_before"]
        joined = joined.dropna(subset=["delta"])
        joined = joined.reindex(joined["delta"].abs().sort_values(ascending=False).index)
        mover_frame = joined.head(movers).rename(
            columns={"score_before": "previous_score", "band_before": "previous_band"}
        )[list(mover_frame.columns)]
    insufficient = scores[scores["band"] == model.insufficient_band][
        ["account_id", "name", "owner", "coverage"]
    ].reset_index(drop=True)
    overridden = scores[scores["band"] != scores["computed_band"]][
        ["account_id", "name", "owner", "score", "band", "computed_band"]
    ].reset_index(drop=True)
    return PortfolioReport(
        model_name=model.name,
        as_of=day,
        previous=previous,
        band_order=order,
        at_risk_band=model.band_names[-1],
        bands=bands,
        by_segment=_breakdown(scores, "segment", order),
        by_owner=_breakdown(scores, "owner", order),
        movers=mover_frame.reset_index(drop=True),
        insufficient=insufficient,
        overrides=overridden,
    )
