"""The score history a backtest reads: stored snapshots, or scores recomputed in memory."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vitalsign.engine.scoring import ScoredFrame
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel

SCORE_FIELDS = [
    "account_id",
    "as_of",
    "name",
    "owner",
    "segment",
    "arr",
    "scorecard",
    "score",
    "base_score",
    "band",
    "computed_band",
    "coverage",
    "gate_pass",
    "flags",
]
ITEM_FIELDS = [
    "account_id",
    "as_of",
    "name",
    "raw_value",
    "raw_text",
    "points",
    "weight",
    "contribution",
]


@dataclass(frozen=True)
class History:
    """Scores per account and date under one model, with each signal's values behind them."""

    model: LoadedModel
    scores: pd.DataFrame  # SCORE_FIELDS (+ model_hash when stored), one row per account and date
    items: pd.DataFrame  # ITEM_FIELDS, one row per account, date and signal
    source: str  # "stored snapshots" or "recomputed"
    hashes: tuple[str, ...]  # model hashes found in the history

    @property
    def dates(self) -> list[dt.date]:
        """Snapshot dates, oldest first."""
        return sorted({t.date() for t in pd.to_datetime(self.scores["as_of"])})

    @property
    def signal_names(self) -> list[str]:
        """Signals that appear in a scorecard of the history, in model order."""
        present = set(self.items["name"])
        return [s for s in self.model.spec.signals if s in present]

    def wide(self, column: str) -> pd.DataFrame:
        """One column per signal of `column` (e.g. points), row-aligned with `scores`."""
        keys = pd.MultiIndex.from_arrays([self.scores["account_id"], self.scores["as_of"]])
        if self.items.empty:
            return pd.DataFrame(index=range(len(self.scores)))
        table = self.items.set_index(["account_id", "as_of", "name"])[column].unstack("name")
        aligned = table.reindex(keys)
        aligned = aligned[[s for s in self.signal_names if s in aligned.columns]]
        return aligned.reset_index(drop=True)

    def flag_lists(self) -> list[list[str]]:
        """The raised flags of each row."""
        return [json.loads(text) if text else [] for text in self.scores["flags"]]


def _normalise(scores: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    scores = scores.copy()
    items = items.copy()
    scores["as_of"] = pd.to_datetime(scores["as_of"]).astype("datetime64[ns]")
    items["as_of"] = pd.to_datetime(items["as_of"]).astype("datetime64[ns]")
    scores = scores.sort_values(["as_of", "account_id"]).reset_index(drop=True)
    return scores, items


def read_history(
    connection: Any, model: LoadedModel, dates: Sequence[dt.date] | None = None
) -> History:
    """Return the stored snapshots of `model` (all dates, or only `dates`)."""
    where = "model_name = ?"
    params: list[Any] = [model.name]
    if dates is not None:
        where += " AND snapshot_date IN (SELECT UNNEST(?::DATE[]))"
        params.append(list(dates))
    fields = ", ".join(f for f in SCORE_FIELDS if f != "as_of")
    scores: pd.DataFrame = connection.execute(
        f"SELECT {fields}, snapshot_date AS as_of, model_hash FROM scores WHERE {where}", params
    ).df()
    if scores.empty:
        raise BacktestError(
            f"no stored snapshots of model {model.name!r}; run `vitalsign backfill` "
            "(or `vitalsign backtest --from D1 --to D2`, which backfills first)"
        )
    item_fields = ", ".join(f for f in ITEM_FIELDS if f != "as_of")
    items: pd.DataFrame = connection.execute(
        f"SELECT {item_fields}, snapshot_date AS as_of FROM score_items "
        f"WHERE kind = 'signal' AND {where}",
        params,
    ).df()
    scores, items = _normalise(scores, items[ITEM_FIELDS])
    hashes = tuple(sorted(set(scores["model_hash"])))
    return History(model, scores, items, "stored snapshots", hashes)


def history_from_scored(scored: ScoredFrame, model: LoadedModel) -> History:
    """Wrap scores computed in memory (`compute_scores`) as a history."""
    scores = scored.scores[[c for c in SCORE_FIELDS if c in scored.scores.columns]]
    items = scored.items[scored.items["kind"] == "signal"][ITEM_FIELDS]
    scores, items = _normalise(scores, items)
    scores["model_hash"] = model.hash
    return History(model, scores, items, "recomputed", (model.hash,))
