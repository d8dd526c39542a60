"""What a model change would do: re-score history under two models and compare them.

`vitalsign diff MODEL_A MODEL_B` re-scores the same dates under both models (nothing is
stored) and reports each model's AUC against churn, their paired AUC difference, churn per
band, band moves, and which accounts would change band on the latest date. When either model
is a calibrate proposal trained on some of these dates (its header says which), the figures
are labelled in-sample and the dates after its training snapshots are compared alone too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vitalsign.analytics.bands import band_table, is_monotone
from vitalsign.analytics.folds import Sample, in_sample, sample_of
from vitalsign.analytics.history import History, history_from_scored
from vitalsign.analytics.metrics import (
    Bootstrap,
    Estimate,
    ap_estimate,
    auc_estimate,
    paired_auc_difference,
)
from vitalsign.analytics.outcomes import LABELLED, Outcomes, label_snapshots, read_outcomes
from vitalsign.analytics.progress import Step, no_progress
from vitalsign.engine.backends import connect_engine
from vitalsign.engine.run import compute_scores
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

DIFF_STAGES = 4  # the stages `diff_models` reports to its `progress` callback
CHANGED_COLUMNS = ["account_id", "name", "owner", "arr", "band_a", "band_b", "score_a", "score_b"]


@dataclass(frozen=True)
class LaterDates:
    """The comparison on the dates after a proposal's training snapshots alone."""

    first: dt.date
    rows: int
    churned: int
    auc_a: Estimate
    auc_b: Estimate
    auc_difference: Estimate  # b − a

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "from": self.first.isoformat(),
            "rows": self.rows,
            "churned": self.churned,
            "auc_a": self.auc_a.to_dict(),
            "auc_b": self.auc_b.to_dict(),
            "auc_difference": self.auc_difference.to_dict(),
        }


@dataclass(frozen=True)
class ModelComparison:
    """Two models' scores of the same accounts and dates, side by side."""

    name_a: str
    name_b: str
    hash_a: str
    hash_b: str
    horizon_days: int
    rows: int  # labelled rows scored by both
    churned: int
    auc_a: Estimate
    auc_b: Estimate
    auc_difference: Estimate  # b − a
    pr_auc_a: Estimate
    pr_auc_b: Estimate
    bands_a: pd.DataFrame
    bands_b: pd.DataFrame
    monotone_a: bool
    monotone_b: bool
    latest: dt.date
    moves: pd.DataFrame  # crosstab of band_a (index) × band_b (columns) on the latest date
    changed: pd.DataFrame  # CHANGED_COLUMNS, accounts whose band differs on the latest date
    accounts_latest: int
    sample: Sample  # in-sample when a model was calibrated on some of these dates
    later: LaterDates | None = None  # the out-of-sample dates alone, when in-sample

    @property
    def changed_share(self) -> float:
        """Share of the latest date's accounts whose band would change."""
        return len(self.changed) / self.accounts_latest if self.accounts_latest else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        from vitalsign.analytics.backtest import records

        return {
            "model_a": {"name": self.name_a, "hash": self.hash_a},
            "model_b": {"name": self.name_b, "hash": self.hash_b},
            "horizon_days": self.horizon_days,
            "rows": self.rows,
            "churned": self.churned,
            "auc_a": self.auc_a.to_dict(),
            "auc_b": self.auc_b.to_dict(),
            "auc_difference": self.auc_difference.to_dict(),
            "pr_auc_a": self.pr_auc_a.to_dict(),
            "pr_auc_b": self.pr_auc_b.to_dict(),
            "bands_a": records(self.bands_a),
            "bands_b": records(self.bands_b),
            "monotone_a": self.monotone_a,
            "monotone_b": self.monotone_b,
            "latest": self.latest.isoformat(),
            "accounts_latest": self.accounts_latest,
            "band_moves": {
                str(i): {str(c): int(v) for c, v in row.items()} for i, row in self.moves.iterrows()
            },
            "changed": records(self.changed),
            **self.sample.to_dict(),
            "later_dates": None if self.later is None else self.later.to_dict(),
        }


def _model_rows(history: History, band_column: str) -> pd.DataFrame:
    scores = history.scores
    frame = scores[["account_id", "as_of", "name", "owner", "arr", "score"]].copy()
    frame["band"] = scores[band_column]
    frame["scored"] = scores["score"].notna() & (
        scores[band_column] != history.model.spec.insufficient_band
    )
    return frame


def compare_histories(
    a: History,
    b: History,
    outcomes: Outcomes,
    horizon_days: int,
    replicates: int = 200,
    seed: int = 0,
    band_column_a: str = "computed_band",
    band_column_b: str = "computed_band",
    evaluate_dates: Sequence[dt.date] | None = None,
    known_sample: str | None = None,
) -> ModelComparison:
    """Compare two histories of the same accounts; AUCs on `evaluate_dates` (default: all).

    The figures are in-sample when either model is a calibrate proposal trained on some of
    the dates (its file says so, `folds.sample_of`), unless the caller knows (`known_sample`).
    """
    rows_a, rows_b = _model_rows(a, band_column_a), _model_rows(b, band_column_b)
    both = rows_a.merge(
        rows_b[["account_id", "as_of", "score", "band", "scored"]],
        on=["account_id", "as_of"],
        suffixes=("_a", "_b"),
    )
    labelled = label_snapshots(both, outcomes, horizon_days)
    keep = (labelled["status"] == LABELLED) & labelled["scored_a"] & labelled["scored_b"]
    if evaluate_dates is not None:
        wanted = pd.to_datetime(pd.Series(list(evaluate_dates))).astype("datetime64[ns]")
        keep &= labelled["as_of"].isin(set(wanted))
    rows = labelled[keep].reset_index(drop=True)
    churned = rows["churned"].to_numpy(dtype=bool)
    if rows.empty or churned.all() or not churned.any():
        raise BacktestError(
            f"no labelled rows with both churners and non-churners within {horizon_days} days "
            "to compare the models on; choose other dates or a shorter horizon"
        )
    boot = Bootstrap.by_account(rows["account_id"].to_numpy(), replicates, seed)
    risk_a = -rows["score_a"].to_numpy(dtype="float64")
    risk_b = -rows["score_b"].to_numpy(dtype="float64")
    in_window = labelled[(labelled["status"] == LABELLED)]
    if evaluate_dates is not None:
        in_window = in_window[in_window["as_of"].isin(set(wanted))]
    spec_a, spec_b = a.model.spec, b.model.spec
    bands_a = band_table(
        in_window.rename(columns={"band_a": "band"}), [*spec_a.band_names, spec_a.insufficient_band]
    )
    bands_b = band_table(
        in_window.rename(columns={"band_b": "band"}), [*spec_b.band_names, spec_b.insufficient_band]
    )
    latest = both["as_of"].max()
    now = both[both["as_of"] == latest]
    moves = pd.crosstab(now["band_a"], now["band_b"])
    moves = moves.reindex(
        index=[*spec_a.band_names, spec_a.insufficient_band],
        columns=[*spec_b.band_names, spec_b.insufficient_band],
        fill_value=0,
    )
    moved = now[now["band_a"] != now["band_b"]].sort_values("arr", ascending=False)
    days = rows["as_of"].dt.date
    if known_sample is None:
        sample = sample_of(days, [a.model, b.model])
    else:
        sample = Sample(known_sample, None, None, 0, None)
    return ModelComparison(
        name_a=a.model.name,
        name_b=b.model.name,
        hash_a=a.model.hash,
        hash_b=b.model.hash,
        horizon_days=horizon_days,
        rows=len(rows),
        churned=int(churned.sum()),
        auc_a=auc_estimate(risk_a, churned, boot),
        auc_b=auc_estimate(risk_b, churned, boot),
        auc_difference=paired_auc_difference(risk_a, risk_b, churned, boot),
        pr_auc_a=ap_estimate(risk_a, churned, boot),
        pr_auc_b=ap_estimate(risk_b, churned, boot),
        bands_a=bands_a,
        bands_b=bands_b,
        monotone_a=is_monotone(bands_a, spec_a.band_names),
        monotone_b=is_monotone(bands_b, spec_b.band_names),
        latest=pd.Timestamp(latest).date(),
        moves=moves,
        changed=moved[CHANGED_COLUMNS].reset_index(drop=True),
        accounts_latest=len(now),
        sample=sample,
        later=_later_dates(rows, sample, replicates, seed),
    )


def _later_dates(
    rows: pd.DataFrame, sample: Sample, replicates: int, seed: int
) -> LaterDates | None:
    """Both AUCs and their difference on the rows after the training snapshots alone."""
    if sample.trained is None or sample.kind != "in-sample":
        return None
    after = rows[~in_sample(rows["as_of"].dt.date, sample.trained)]
    churned = after["churned"].to_numpy(dtype=bool)
    if not 0 < churned.sum() < len(churned):
        return None
    boot = Bootstrap.by_account(after["account_id"].to_numpy(), replicates, seed)
    risk_a = -after["score_a"].to_numpy(dtype="float64")
    risk_b = -after["score_b"].to_numpy(dtype="float64")
    return LaterDates(
        first=pd.Timestamp(after["as_of"].min()).date(),
        rows=len(after),
        churned=int(churned.sum()),
        auc_a=auc_estimate(risk_a, churned, boot),
        auc_b=auc_estimate(risk_b, churned, boot),
        auc_difference=paired_auc_difference(risk_a, risk_b, churned, boot),
    )


def default_dates(workspace: Workspace, model: LoadedModel) -> list[dt.date]:
    """The stored snapshot dates of `model`, or of any model when it has none."""
    dates = snapshot_dates(workspace.duckdb, model.name) or snapshot_dates(workspace.duckdb)
    if not dates:
        raise BacktestError(
            "no snapshot dates to re-score: pass --from/--to (and --every), or run "
            "`vitalsign backfill` first"
        )
    return dates


def diff_models(
    workspace: Workspace,
    model_a: LoadedModel,
    model_b: LoadedModel,
    dates: Sequence[dt.date] | None = None,
    horizon_days: int = 90,
    replicates: int = 200,
    seed: int = 0,
    until: dt.datetime | None = None,
    progress: Step = no_progress,
) -> ModelComparison:
    """Re-score `dates` under both models (without storing) and compare them.

    `progress` is called as each of its DIFF_STAGES stages starts.

    >>> ws = open_workspace("acme")  # doctest: +SKIP
    >>> diff_models(ws, load_model("a.yml"), load_model("b.yml")).auc_difference  # doctest: +SKIP
    """
    days = sorted(set(dates)) if dates is not None else default_dates(workspace, model_a)
    progress("reading the outcomes")
    outcomes = read_outcomes(workspace.duckdb, until)
    progress(f"scoring {len(days)} dates under {model_a.name} (A)")
    a = history_from_scored(compute_scores(connect_engine(workspace), model_a, days), model_a)
    progress(f"scoring {len(days)} dates under {model_b.name} (B)")
    b = history_from_scored(compute_scores(connect_engine(workspace), model_b, days), model_b)
    progress(f"comparing ({replicates} bootstrap replicates)")
    return compare_histories(a, b, outcomes, horizon_days, replicates, seed)
