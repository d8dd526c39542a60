"""Backtest a model against churn over its point-in-time history.

For each snapshot date T and horizon H: did the account churn in [T, T + H)? The report holds
ROC-AUC and PR-AUC with account-bootstrap intervals, churn and lift per band (by count and by
ARR), whether the bands are monotone, Kaplan–Meier curves per band, each signal's own AUC and
direction, CSM ratings versus the score, and the leak check. See docs/backtest.md.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from vitalsign.analytics import leakage
from vitalsign.analytics.bands import band_table, is_monotone
from vitalsign.analytics.csm_agreement import CsmAgreement, csm_agreement
from vitalsign.analytics.folds import BacktestFolds, backtest_folds, sample_text
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.horizon import (
    boundary_churns,
    late_until_warning,
    rows_past_detected_end,
    too_recent_fix,
    until_past_end,
    window_text,
)
from vitalsign.analytics.metrics import Bootstrap, Estimate, ap_estimate, auc_estimate, roc_auc
from vitalsign.analytics.outcomes import LABELLED, Outcomes, label_snapshots, read_outcomes
from vitalsign.analytics.progress import Step, no_progress
from vitalsign.analytics.signal_checks import signal_table
from vitalsign.analytics.survival import SurvivalCurves, survival_by_band
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

DEFAULT_HORIZON_DAYS = 90
DEFAULT_REPLICATES = 200
EVALUATE_STAGES = 6  # the stages `evaluate_history` reports to its `progress` callback
CURVE_POINTS = 200


@dataclass(frozen=True)
class BacktestReport:
    """Everything a backtest found; `to_dict` is the JSON form."""

    model_name: str
    model_hashes: tuple[str, ...]
    horizon_days: int
    observed_until: pd.Timestamp
    outcomes_source: str
    history_source: str
    dates: list[dt.date]
    counts: dict[str, int]
    base_rate: float
    roc_auc: Estimate
    pr_auc: Estimate
    band_names: list[str]
    bands: pd.DataFrame
    monotone: bool
    by_date: pd.DataFrame  # as_of, rows, churned, churn_rate, auc
    roc: pd.DataFrame  # fpr, tpr
    pr: pd.DataFrame  # recall, precision
    survival: SurvivalCurves
    signals: pd.DataFrame
    csm: CsmAgreement | None
    leaks: leakage.LeakReport
    notes: list[str]
    folds: BacktestFolds | None = None  # how the figures were obtained, per fold

    @property
    def sample(self) -> str:
        """One line: whether the figures are out of sample, and how they were obtained."""
        return "" if self.folds is None else sample_text(self.folds)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "model": {"name": self.model_name, "hashes": list(self.model_hashes)},
            "horizon_days": self.horizon_days,
            "window": f"[T, T + {self.horizon_days} days)",
            "observed_until": self.observed_until.isoformat(),
            "outcomes_source": self.outcomes_source,
            "history_source": self.history_source,
            "dates": [d.isoformat() for d in self.dates],
            "counts": self.counts,
            "base_rate": _clean(self.base_rate),
            "roc_auc": self.roc_auc.to_dict(),
            "sample": self.sample,
            "folds": None if self.folds is None else self.folds.to_dict(),
            "pr_auc": self.pr_auc.to_dict(),
            "bands": records(self.bands),
            "bands_monotone": self.monotone,
            "by_date": records(self.by_date),
            "survival": self.survival.to_dict(),
            "signals": records(self.signals),
            "csm": self.csm.to_dict() if self.csm is not None else None,
            "leak_check": self.leaks.to_dict(),
            "notes": self.notes,
        }


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp | dt.date):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame as JSON-ready dicts."""
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _curve(x: np.ndarray, y: np.ndarray, names: tuple[str, str]) -> pd.DataFrame:
    keep = np.unique(np.linspace(0, len(x) - 1, min(len(x), CURVE_POINTS)).round().astype(int))
    return pd.DataFrame({names[0]: x[keep], names[1]: y[keep]})


def _by_date(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, part in frame.groupby("as_of"):
        as_of: Any = key
        labels = part["churned"].to_numpy(dtype=bool)
        auc = roc_auc(-part["score"].to_numpy(dtype="float64"), labels)
        rows.append(
            {
                "as_of": pd.Timestamp(as_of).date(),
                "rows": len(part),
                "churned": int(labels.sum()),
                "churn_rate": float(labels.mean()),
                "auc": auc,
            }
        )
    return pd.DataFrame(rows, columns=["as_of", "rows", "churned", "churn_rate", "auc"])


def evaluate_history(
    history: History,
    outcomes: Outcomes,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    connection: Any = None,
    leak_dates: int = 2,
    progress: Step = no_progress,
) -> BacktestReport:
    """Backtest a history against outcomes; `connection` enables the CSM and future-row checks.

    `progress` is called as each of its EVALUATE_STAGES stages starts.
    """
    spec = history.model.spec
    progress("labelling snapshots with outcomes")
    # the model's verdict, not a person's band override
    scores = history.scores.assign(band=history.scores["computed_band"])
    labelled = label_snapshots(scores, outcomes, horizon_days)
    scored = labelled["score"].notna() & (labelled["band"] != spec.insufficient_band)
    use = ((labelled["status"] == LABELLED) & scored).to_numpy()
    rows = labelled[use].reset_index(drop=True)
    counts = {
        "rows": len(labelled),
        "labelled": int((labelled["status"] == LABELLED).sum()),
        "censored": int((labelled["status"] == "censored").sum()),
        "pending": int(labelled["pending"].sum()),
        "churned_before": int((labelled["status"] == "churned_before").sum()),
        "insufficient_data": int(((labelled["status"] == LABELLED) & ~scored).sum()),
        "evaluated": len(rows),
        "churned": int(rows["churned"].sum()),
        "accounts": int(rows["account_id"].nunique()),
    }
    if rows.empty or counts["churned"] == 0 or counts["churned"] == len(rows):
        raise BacktestError(_nothing_to_test(counts, history.dates, outcomes, horizon_days))
    labels = rows["churned"].to_numpy(dtype=bool)
    risk = -rows["score"].to_numpy(dtype="float64")
    progress(f"churn by band and survival ({len(rows):,} rows)")
    boot = Bootstrap.by_account(rows["account_id"].to_numpy(), replicates, seed)
    band_order = [*spec.band_names, spec.insufficient_band]
    in_window = labelled[labelled["status"] == LABELLED]
    bands = band_table(in_window, band_order)
    fpr, tpr, _ = roc_curve(labels, risk)
    precision, recall, _ = precision_recall_curve(labels, risk)
    survival_rows = labelled[labelled["status"] != "churned_before"]
    survival = survival_by_band(survival_rows, band_order, horizon_days)
    wide = {
        c: history.wide(c)[use].reset_index(drop=True)
        for c in ("raw_value", "points", "weight", "contribution")
    }
    scales = {name: spec.signals[name].scale for name in wide["points"].columns}
    progress(f"signals against churn ({replicates} bootstrap replicates)")
    signals = signal_table(wide["raw_value"], wide["points"], wide["weight"], labels, scales, boot)
    csm = None
    progress("CSM ratings against churn")
    if connection is not None:
        ratings = connection.execute("SELECT account_id, rated_at, rating FROM csm_ratings").df()
        csm = csm_agreement(rows, ratings, spec.band_names, boot) if not ratings.empty else None
    progress(f"ROC-AUC and PR-AUC ({replicates} bootstrap replicates)")
    roc = auc_estimate(risk, labels, boot)
    pr_auc = ap_estimate(risk, labels, boot)
    progress(f"leak check ({leak_dates} dates re-scored)" if leak_dates else "leak check")
    leaks = _leak_report(history, rows, labels, wide, signals, roc.value, connection, leak_dates)
    return BacktestReport(
        model_name=history.model.name,
        model_hashes=history.hashes,
        horizon_days=horizon_days,
        observed_until=outcomes.observed_until,
        outcomes_source=outcomes.source,
        history_source=history.source,
        dates=history.dates,
        counts=counts,
        base_rate=float(labels.mean()),
        roc_auc=roc,
        pr_auc=pr_auc,
        band_names=spec.band_names,
        bands=bands,
        monotone=is_monotone(bands, spec.band_names),
        by_date=_by_date(rows),
        roc=_curve(fpr, tpr, ("fpr", "tpr")),
        pr=_curve(recall[::-1], precision[::-1], ("recall", "precision")),
        survival=survival,
        signals=signals,
        csm=csm,
        leaks=leaks,
        notes=_notes(history, outcomes, counts, boundary_churns(rows, horizon_days), horizon_days)
        + _late_until_notes(rows, outcomes, horizon_days),
        folds=backtest_folds(rows, history.model, replicates, seed),
    )


def _nothing_to_test(
    counts: dict[str, int], dates: list[dt.date], outcomes: Outcomes, horizon_days: int
) -> str:
    """Why no AUC can be computed, and the option values that would fix it."""
    found = (
        f"nothing to test the score on: of {counts['rows']} snapshot rows, "
        f"{counts['censored']} are too recent to know their {horizon_days}-day outcome, "
        f"{counts['churned_before']} had already churned, and {counts['churned']} of the "
        f"{counts['evaluated']} left churned"
    )
    if counts["evaluated"] == 0 and counts["censored"] > 0:
        return f"{found}. {too_recent_fix(dates, outcomes.observed_until, horizon_days)}"
    if counts["churned"] == 0:
        return (
            f"{found}. No churn falls in a window [T, T + {horizon_days} days) of a labelled "
            f"snapshot (the data ends {outcomes.observed_until:%Y-%m-%d}): check the churn "
            "outcomes with `vitalsign outcomes`, or use a longer --horizon"
        )
    return f"{found}. Every labelled row churned: check the outcomes with `vitalsign outcomes`"


def _leak_report(
    history: History,
    rows: pd.DataFrame,
    labels: np.ndarray,
    wide: dict[str, pd.DataFrame],
    signals: pd.DataFrame,
    score_auc: float,
    connection: Any,
    leak_dates: int,
) -> leakage.LeakReport:
    findings = leakage.static_findings(history.model.spec)
    _, drop_one = leakage.drop_one_table(
        rows["base_score"], wide["contribution"], wide["weight"], labels
    )
    findings += leakage.metric_findings(score_auc, signals, drop_one)
    dates: list[dt.date] = []
    sample: list[str] = []
    if connection is not None and leak_dates > 0:
        labelled_dates = sorted({t.date() for t in rows["as_of"]})
        picks = np.unique(np.linspace(0, len(labelled_dates) - 1, leak_dates).round().astype(int))
        dates = [labelled_dates[i] for i in picks]
        sample = leakage.pick_sample(rows["account_id"].tolist())
        findings += leakage.truncation_findings(connection, history.model, dates, sample)
    since = leakage.history_recorded_since(connection) if connection is not None else None
    labelled = sorted({t.date() for t in rows["as_of"]})
    cautions = leakage.current_row_cautions(history.model.spec, labelled, since)
    return leakage.LeakReport(findings, cautions, dates, len(sample), drop_one)


def _late_until_notes(rows: pd.DataFrame, outcomes: Outcomes, horizon_days: int) -> list[str]:
    """Warn when --until is after the data's own end: later windows look churn-free."""
    detected = outcomes.detected_until
    if detected is None or not until_past_end(outcomes.observed_until, detected):
        return []
    past = rows_past_detected_end(rows, detected, horizon_days)
    return [
        f"{past} of the {len(rows)} labelled rows have a window reaching past the data's "
        f"detected end: {late_until_warning(outcomes.observed_until, detected)}"
    ]


def _notes(
    history: History,
    outcomes: Outcomes,
    counts: dict[str, int],
    on_the_edge: int,
    horizon_days: int,
) -> list[str]:
    notes = []
    if on_the_edge:
        notes.append(
            f"{on_the_edge} labelled rows have their next churn exactly {horizon_days} days "
            f"after the snapshot and count as not churned: {window_text(horizon_days)} "
            f"(--horizon {horizon_days + 1}d would count them)"
        )
    if len(history.hashes) > 1:
        notes.append(
            f"the history mixes {len(history.hashes)} versions of model {history.model.name!r} "
            f"({', '.join(history.hashes)}); re-run `vitalsign backfill` to score it all with one"
        )
    if history.model.hash not in history.hashes:
        notes.append(
            f"the stored history was scored with another version of the model than "
            f"{history.model.hash}; use `vitalsign backtest --rescore` to test this version"
        )
    if outcomes.source != "outcomes table":
        notes.append(f"outcomes {outcomes.source} (the outcomes table is empty)")
    if counts["censored"]:
        past = counts["censored"] - counts.get("pending", 0)
        why = [f"{past} because snapshot + horizon is after {outcomes.observed_until:%Y-%m-%d}"]
        if counts.get("pending"):
            why.append(
                f"{counts['pending']} because the account's subscription ended less than the "
                "grace period before the data's end (not yet known to be a churn)"
            )
        notes.append(
            f"{counts['censored']} rows are too recent to know their outcome and are left out: "
            + "; ".join(why)
        )
    return notes


def run_backtest(
    workspace: Workspace,
    model: LoadedModel | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    until: dt.datetime | None = None,
    dates: Sequence[dt.date] | None = None,
    history: History | None = None,
    leak_dates: int = 2,
    progress: Step = no_progress,
) -> BacktestReport:
    """Backtest the workspace's stored history of `model` (default: the workspace model).

    >>> report = run_backtest(open_workspace("acme"))  # doctest: +SKIP
    >>> print(report.roc_auc)  # doctest: +SKIP
    0.781 [0.752, 0.809]
    """
    model = model or workspace.load_model()
    if history is None:
        progress("reading the score history")
        history = read_history(workspace.duckdb, model, dates)
    progress("reading the outcomes")
    outcomes = read_outcomes(workspace.duckdb, until)
    return evaluate_history(
        history, outcomes, horizon_days, replicates, seed, workspace.duckdb, leak_dates, progress
    )
