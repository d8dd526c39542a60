"""`vitalsign calibrate`: propose weights and band thresholds from the outcomes, validated.

1. Label the stored history (churn within the horizon) and split it by date: train on the
   earlier snapshots, test on the later ones, with a gap of one horizon between them so no
   training label sees the test period. With too few dates, cross-validate by account.
2. Fit non-negative weights per scorecard on the training rows (`weights.py`); optionally
   reverse the scale of signals that point the wrong way.
3. Re-score training and test dates under the new weights, place band thresholds on the
   training scores (same shares as the old model by default, or target churn rates).
4. Write the proposed model file and compare old and new on the test dates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.analytics.bands import (
    assign_bands,
    band_shares,
    thresholds_from_rates,
    thresholds_from_shares,
)
from vitalsign.analytics.diff import ModelComparison, compare_histories
from vitalsign.analytics.history import History, history_from_scored, read_history
from vitalsign.analytics.horizon import too_recent_fix
from vitalsign.analytics.metrics import (
    Bootstrap,
    Estimate,
    auc_estimate,
    paired_auc_difference,
)
from vitalsign.analytics.outcomes import LABELLED, Outcomes, label_snapshots, read_outcomes
from vitalsign.analytics.proposal import propose_text, proposed_name
from vitalsign.analytics.weights import (
    cross_validated_scores,
    fit_weights,
    scorecard_tree,
)
from vitalsign.engine.run import compute_scores
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.model.spec import Band, Group, HealthModel
from vitalsign.store.output_paths import write_output
from vitalsign.store.workspace import Workspace

MIN_CHURNED = 20  # churned training rows a scorecard needs to be refitted
MIN_DATES_OUT_OF_TIME = 4


@dataclass(frozen=True)
class ScorecardFit:
    """Old and new weights (as % of the scorecard) of one scorecard."""

    scorecard: str
    rows: int
    churned: int
    penalty: float
    old: dict[str, float]
    new: dict[str, float]
    refitted: bool  # False: too few churners, weights kept


@dataclass(frozen=True)
class Validation:
    """How the proposal was validated."""

    mode: str  # "out-of-time" or "cross-validation by account"
    train_dates: list[dt.date]
    test_dates: list[dt.date]
    old_auc: Estimate  # on the test rows (out-of-time) or all rows (cross-validation)
    new_auc: Estimate  # the same rows; out-of-fold scores under cross-validation
    auc_change: Estimate  # new − old on those rows, paired bootstrap interval

    @property
    def supported(self) -> bool:
        """True when the out-of-sample AUC change is an improvement: its interval is above 0."""
        return self.auc_change.low > 0


@dataclass(frozen=True)
class Calibration:
    """A proposed model and the evidence for it."""

    proposed: LoadedModel
    text: str
    path: Path | None
    fits: list[ScorecardFit]
    reversed_signals: list[str]
    old_bands: list[Band]
    new_bands: list[Band]
    band_rule: str
    validation: Validation
    comparison: ModelComparison
    notes: list[str]

    @property
    def verdict(self) -> str:
        """One line: whether the data supports the proposal, with the AUC change."""
        change = self.validation.auc_change
        if self.validation.supported:
            return f"improvement supported: AUC change {change}"
        if change.value < 0 and change.high < 0:
            return f"the proposal is worse: AUC change {change}"
        return f"no improvement supported: AUC change {change}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        v = self.validation
        return {
            "proposed": {
                "path": str(self.path) if self.path else None,
                "name": self.proposed.name,
                "hash": self.proposed.hash,
            },
            "supported": self.validation.supported,
            "verdict": self.verdict,
            "validation": {
                "mode": v.mode,
                "train_dates": [d.isoformat() for d in v.train_dates],
                "test_dates": [d.isoformat() for d in v.test_dates],
                "old_auc": v.old_auc.to_dict(),
                "new_auc": v.new_auc.to_dict(),
                "auc_change": v.auc_change.to_dict(),
            },
            "scorecards": [
                {**fit.__dict__, "penalty": None if math.isnan(fit.penalty) else fit.penalty}
                for fit in self.fits
            ],
            "reversed_signals": self.reversed_signals,
            "bands": {
                "rule": self.band_rule,
                "old": [b.model_dump() for b in self.old_bands],
                "new": [b.model_dump() for b in self.new_bands],
            },
            "comparison": self.comparison.to_dict(),
            "notes": self.notes,
        }


def nominal_weights(groups: dict[str, Group]) -> dict[str, float]:
    """Each signal's share (%) of a scorecard when every signal has data."""
    shares: dict[str, float] = {}

    def walk(members: dict[str, Group], signals: dict[str, float | None], share: float) -> None:
        parts = [(s, 1.0 if w is None else float(w)) for s, w in signals.items()]
        total = sum(w for _, w in parts) + sum(g.weight for g in members.values())
        for name, weight in parts:
            shares[name] = shares.get(name, 0.0) + share * weight / total
        for group in members.values():
            walk(group.groups, group.signals, share * group.weight / total)

    walk(groups, {}, 100.0)
    return shares


def _split(
    dates: list[dt.date], horizon: int, test_share: float, split: dt.date | None
) -> tuple[list[dt.date], list[dt.date]]:
    """Earlier dates to train on, later ones to test on, one horizon apart."""
    if split is None:
        count = max(1, math.ceil(len(dates) * test_share))
        split = dates[-count]
    test = [d for d in dates if d >= split]
    train = [d for d in dates if d + dt.timedelta(days=horizon) <= split]
    return train, test


def _training_matrix(
    history: History, rows: pd.Series, card: str
) -> tuple[pd.DataFrame, list[str]]:
    groups = history.model.spec.scorecards[card]
    points = history.wide("points")[rows.to_numpy()]
    members = [s for s in nominal_weights(groups) if s in points.columns]
    return points[members], members


def _reversals(
    history: History, labelled: pd.DataFrame, use: pd.Series, boot_seed: int
) -> set[str]:
    """Signals whose points, on the training rows, warn of churn the wrong way round."""
    points = history.wide("points")[use.to_numpy()].reset_index(drop=True)
    labels = labelled.loc[use, "churned"].to_numpy(dtype=bool)
    accounts = labelled.loc[use, "account_id"].to_numpy()
    boot = Bootstrap.by_account(accounts, 100, boot_seed)
    found = set()
    for name in points.columns:
        value = points[name].to_numpy(dtype="float64")
        ok = ~np.isnan(value)
        if ok.sum() < 2 or len(np.unique(value[ok])) < 2:
            continue
        estimate = auc_estimate(-value[ok], labels[ok], boot.subset(ok))
        if estimate.high < 0.5:
            found.add(name)
    return found


def calibrate(
    workspace: Workspace,
    model: LoadedModel | None = None,
    horizon_days: int = 90,
    test_share: float = 0.33,
    split: dt.date | None = None,
    shares: Mapping[str, float] | None = None,
    rates: Mapping[str, float] | None = None,
    flat: bool = False,
    reverse: bool = False,
    output: Path | None = None,
    replicates: int = 200,
    seed: int = 0,
    until: dt.datetime | None = None,
    history: History | None = None,
    force: bool = False,
    today: dt.date | None = None,
) -> Calibration:
    """Propose weights and bands for `model` from the outcomes; write the proposed model file.

    >>> result = calibrate(open_workspace("acme"))  # doctest: +SKIP
    >>> result.validation.new_auc, result.path  # doctest: +SKIP
    """
    model = model or workspace.load_model()
    spec = model.spec
    history = history or read_history(workspace.duckdb, model)
    outcomes = read_outcomes(workspace.duckdb, until)
    labelled = label_snapshots(history.scores, outcomes, horizon_days)
    scored = labelled["score"].notna() & (labelled["computed_band"] != spec.insufficient_band)
    usable = (labelled["status"] == LABELLED) & scored
    dates = sorted({t.date() for t in labelled.loc[usable, "as_of"]})
    if not dates:
        snapshots = sorted({t.date() for t in labelled["as_of"]})
        raise BacktestError(
            "no labelled snapshots to calibrate on: "
            + too_recent_fix(snapshots, outcomes.observed_until, horizon_days)
        )
    out_of_time = len(dates) >= MIN_DATES_OUT_OF_TIME
    train_dates, test_dates = (
        _split(dates, horizon_days, test_share, split) if out_of_time else (dates, dates)
    )
    if out_of_time and (len(train_dates) < 2 or not test_dates):
        raise BacktestError(
            f"the history is too short to train on earlier and test on later snapshots with a "
            f"{horizon_days}-day gap ({dates[0]} to {dates[-1]}); backfill more dates or "
            "lower --test-share"
        )
    day = labelled["as_of"].dt.date
    train = usable & day.isin(set(train_dates))
    notes: list[str] = []
    reversed_signals = _reversals(history, labelled, train, seed) if reverse else set()
    weights, fits = {}, []
    for card, groups in spec.scorecards.items():
        rows = train & (labelled["scorecard"] == card)
        points, members = _training_matrix(history, rows, card)
        churned = labelled.loc[rows, "churned"].to_numpy(dtype="float64")
        old = nominal_weights(groups)
        if churned.sum() < MIN_CHURNED or not members:
            notes.append(
                f"scorecard {card!r}: {int(churned.sum())} churned training rows; weights kept"
            )
            fits.append(
                ScorecardFit(card, int(rows.sum()), int(churned.sum()), math.nan, old, old, False)
            )
            continue
        matrix = points.to_numpy(dtype="float64")
        for j, name in enumerate(members):
            if name in reversed_signals:
                matrix[:, j] = 100.0 - matrix[:, j]
        tree = scorecard_tree(groups, members)
        accounts = labelled.loc[rows, "account_id"].to_numpy()
        fit = fit_weights(matrix, churned, tree, accounts)
        if fit.beta.sum() <= 0:
            notes.append(f"scorecard {card!r}: no signal predicts churn; weights kept")
            fits.append(
                ScorecardFit(
                    card, int(rows.sum()), int(churned.sum()), fit.penalty, old, old, False
                )
            )
            continue
        new = {
            name: float(100 * b / fit.beta.sum()) for name, b in zip(members, fit.beta, strict=True)
        }
        weights[card] = new
        fits.append(
            ScorecardFit(card, int(rows.sum()), int(churned.sum()), fit.penalty, old, new, True)
        )
    name = proposed_name(model.name, today or dt.date.today())
    header = (
        f"Proposed by `vitalsign calibrate` from model {model.name} ({model.hash}), "
        f"horizon {horizon_days} days,\ntrained on snapshots {train_dates[0]} to "
        f"{train_dates[-1]}. Review it, then run `vitalsign diff` before deploying."
    )
    draft_text = propose_text(model, weights, reversed_signals, None, flat, header, name)
    draft = parse_model(draft_text, "<proposed model>")
    eval_dates = sorted(set(train_dates) | set(test_dates) | {history.dates[-1]})
    new_history = history_from_scored(compute_scores(workspace.backend, draft, eval_dates), draft)
    old_history = _old_history(workspace, model, history, eval_dates)
    new_bands, rule = _bands(
        spec, old_history, new_history, outcomes, horizon_days, train_dates, shares, rates, notes
    )
    text = propose_text(model, weights, reversed_signals, new_bands, flat, header, name)
    proposed = parse_model(text, "<proposed model>")
    rebanded = new_history.scores.copy()
    rebanded["computed_band"] = assign_bands(rebanded, proposed.spec)
    rebanded["band"] = rebanded["computed_band"]
    final = History(proposed, rebanded, new_history.items, "recomputed", (proposed.hash,))
    comparison = compare_histories(
        old_history, final, outcomes, horizon_days, replicates, seed, evaluate_dates=test_dates
    )
    if out_of_time:
        validation = Validation(
            "out-of-time",
            train_dates,
            test_dates,
            comparison.auc_a,
            comparison.auc_b,
            comparison.auc_difference,
        )
    else:
        validation = _cross_validation(
            history, labelled, usable, weights, reversed_signals, dates, replicates, seed
        )
        notes.append(
            "too few snapshot dates to test out of time: AUCs are cross-validated by account"
        )
    if not validation.supported:  # the file says so too, not only the terminal
        change = validation.auc_change
        text = (
            f"# NOT SUPPORTED: the out-of-sample AUC change is {change.value:+.3f} "
            f"[{change.low:+.3f}, {change.high:+.3f}], an interval that contains 0 or lies "
            "below it;\n# the data does not show this proposal ranks churn better. Do not "
            "deploy it on this evidence.\n" + text
        )
    path = write_output(
        proposal_path(output, model, workspace), text, "model", "--output", workspace, force
    )
    return Calibration(
        proposed=LoadedModel(proposed.spec, path, proposed.hash),
        text=text,
        path=path,
        fits=fits,
        reversed_signals=sorted(reversed_signals),
        old_bands=list(spec.bands),
        new_bands=new_bands,
        band_rule=rule,
        validation=validation,
        comparison=comparison,
        notes=notes,
    )


def _old_history(
    workspace: Workspace, model: LoadedModel, stored: History, dates: list[dt.date]
) -> History:
    """The old model's scores on `dates`: stored ones when they are of this exact version."""
    if stored.hashes == (model.hash,) and set(dates) <= set(stored.dates):
        wanted = set(pd.to_datetime(pd.Series(dates)).astype("datetime64[ns]"))
        scores = stored.scores[stored.scores["as_of"].isin(wanted)].reset_index(drop=True)
        items = stored.items[stored.items["as_of"].isin(wanted)]
        return History(model, scores, items, stored.source, stored.hashes)
    return history_from_scored(compute_scores(workspace.backend, model, dates), model)


def _bands(
    spec: HealthModel,
    old: History,
    new: History,
    outcomes: Outcomes,
    horizon: int,
    train_dates: list[dt.date],
    shares: Mapping[str, float] | None,
    rates: Mapping[str, float] | None,
    notes: list[str],
) -> tuple[list[Band], str]:
    """New thresholds on the training scores: target churn rates, given shares, or old shares."""
    names = spec.band_names
    wanted = set(pd.to_datetime(pd.Series(train_dates)).astype("datetime64[ns]"))
    scores = new.scores[new.scores["as_of"].isin(wanted)]
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
        before = old.scores[old.scores["as_of"].isin(wanted)]["computed_band"]
        shares = band_shares(before, names)
        rule = "the old model's band shares " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    else:
        rule = "band shares " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    return thresholds_from_shares(scores["score"], names, shares), rule


def _cross_validation(
    history: History,
    labelled: pd.DataFrame,
    usable: pd.Series,
    weights: Mapping[str, Mapping[str, float]],
    reversed_signals: set[str],
    dates: list[dt.date],
    replicates: int,
    seed: int,
) -> Validation:
    """Out-of-fold weighted scores by account, per scorecard, against the old scores."""
    new_scores = np.full(len(labelled), np.nan)
    for card in weights:
        rows = usable & (labelled["scorecard"] == card)
        points, members = _training_matrix(history, rows, card)
        matrix = points.to_numpy(dtype="float64")
        for j, name in enumerate(members):
            if name in reversed_signals:
                matrix[:, j] = 100.0 - matrix[:, j]
        tree = scorecard_tree(history.model.spec.scorecards[card], members)
        churned = labelled.loc[rows, "churned"].to_numpy(dtype="float64")
        accounts = labelled.loc[rows, "account_id"].to_numpy()
        new_scores[rows.to_numpy()] = cross_validated_scores(matrix, churned, tree, accounts)
    mask = usable.to_numpy() & ~np.isnan(new_scores)
    labels = labelled["churned"].to_numpy(dtype=bool)[mask]
    boot = Bootstrap.by_account(labelled["account_id"].to_numpy()[mask], replicates, seed)
    old_risk = -labelled["score"].to_numpy(dtype="float64")[mask]
    old = auc_estimate(old_risk, labels, boot)
    new = auc_estimate(-new_scores[mask], labels, boot)
    change = paired_auc_difference(old_risk, -new_scores[mask], labels, boot)
    return Validation("cross-validation by account", dates, dates, old, new, change)


def proposal_path(output: Path | None, model: LoadedModel, workspace: Workspace) -> Path:
    """Return where the proposal goes: `output`, or MODEL.proposed.yml next to the model."""
    if output is not None:
        return output
    folder = model.path.parent if model.path is not None else workspace.root / "models"
    stem = model.path.stem if model.path is not None else model.name
    return folder / f"{stem}.proposed.yml"
