"""`vitalsign calibrate`: propose weights and band thresholds from the outcomes, validated.

1. Label the stored history (churn within the horizon), keep a share of accounts out of
   everything (`--holdout-accounts`), and split the rest by date: train on the earlier
   snapshots, test on the later ones, with a gap of one horizon between them so no training
   label sees the test period. With too few dates, cross-validate by account.
2. Choose the L2 penalty once per scorecard by account-grouped cross-validation on the
   training rows and fit non-negative weights with it (`weights.py`); optionally reverse the
   scale of signals that point the wrong way.
3. Report out-of-sample figures only, per fold and pooled on one scale, with each weight's
   stability over the folds (`protocol.py`, `proposal_figures.py`, `weight_stability.py`);
   the held-out accounts are the final check.
4. Re-score under the new weights, place band thresholds on the training scores (same shares
   as the old model by default, or target churn rates), write the proposed model file and
   compare old and new (out of time: on the test dates; by account: in-sample, so labelled).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vitalsign.analytics.bands import assign_bands, proposed_bands
from vitalsign.analytics.diff import ModelComparison, compare_histories
from vitalsign.analytics.history import History, history_from_scored, read_history
from vitalsign.analytics.holdout import holdout_accounts
from vitalsign.analytics.horizon import too_recent_fix
from vitalsign.analytics.learned_scales import LearnedScale
from vitalsign.analytics.metrics import Estimate
from vitalsign.analytics.outcomes import LABELLED, label_snapshots, read_outcomes
from vitalsign.analytics.proposal import propose_text, proposed_name
from vitalsign.analytics.proposal_figures import out_of_sample
from vitalsign.analytics.protocol import CardRows, OutOfSample
from vitalsign.analytics.scale_proposal import (
    learn_for_calibration,
    relearning,
    reversals,
    with_learned_scales,
)
from vitalsign.analytics.segments import (
    ScorecardFit,
    SegmentCard,
    account_segments,
    fallback_rows,
    fit_scorecard,
    fit_segments,
)
from vitalsign.analytics.time_split import (
    MIN_DATES_OUT_OF_TIME,
    out_of_time_fix,
    split_dates,
)
from vitalsign.engine.backends import connect_engine
from vitalsign.engine.run import compute_scores
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.model.spec import Band
from vitalsign.store.output_paths import write_output
from vitalsign.store.workspace import Workspace


@dataclass(frozen=True)
class Validation:
    """How the proposal was validated."""

    mode: str  # "out-of-time" or "cross-validation by account"
    train_dates: list[dt.date]
    test_dates: list[dt.date]
    old_auc: Estimate  # pooled out of sample: the test rows, or every fold's rows
    new_auc: Estimate  # the same rows; per-fold scores put on one scale before pooling
    auc_change: Estimate  # new − old on those rows, paired bootstrap interval
    protocol: OutOfSample | None = None  # per fold, pooled, weight stability, holdout

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
    comparison_sample: str = "out of time: the test dates"  # or in-sample, so labelled
    learned_scales: list[LearnedScale] = field(default_factory=list)  # --learn-scales

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
                "protocol": None if v.protocol is None else v.protocol.to_dict(),
            },
            "comparison_sample": self.comparison_sample,
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
            "learned_scales": [s.to_dict() for s in self.learned_scales],
            "notes": self.notes,
        }


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
    holdout_share: float = 0.0,
    by_segment: str | None = None,
    learn_scales: bool = False,
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
            "no labelled snapshots to calibrate on. "
            + too_recent_fix(snapshots, outcomes.observed_until, horizon_days)
        )
    out_of_time = len(dates) >= MIN_DATES_OUT_OF_TIME
    train_dates, test_dates = (
        split_dates(dates, horizon_days, test_share, split) if out_of_time else (dates, dates)
    )
    if out_of_time and (len(train_dates) < 2 or not test_dates):
        snapshots = sorted({t.date() for t in labelled.loc[scored, "as_of"]})
        raise BacktestError(
            out_of_time_fix(snapshots, outcomes.observed_until, horizon_days, test_share, split)
        )
    if not 0 <= holdout_share < 1:
        raise BacktestError(
            f"--holdout-accounts {holdout_share}: give a share between 0 and 1, e.g. 0.2"
        )
    held = holdout_accounts(labelled.loc[usable, "account_id"].tolist(), holdout_share, seed)
    kept = ~labelled["account_id"].astype(str).isin(held)
    day = labelled["as_of"].dt.date
    train = usable & kept & day.isin(set(train_dates))
    notes: list[str] = []
    cards: list[CardRows] = []
    reversed_signals = reversals(history, labelled, train, seed) if reverse else set()
    fitted_history, data = history, None
    learned: dict[str, LearnedScale] = {}
    if learn_scales:  # learned on the training rows only; each account fold learns its own
        fitted_history, learned, data, more = learn_for_calibration(
            history, labelled, train, reversed_signals
        )
        reversed_signals -= set(learned)
        notes += more
    weights, fits = {}, []
    for card in spec.scorecards:
        rows = train & (labelled["scorecard"] == card)
        fit, card_rows, note = fit_scorecard(fitted_history, labelled, rows, card, reversed_signals)
        fits.append(fit)
        notes += [note] if note else []
        if card_rows is not None:
            weights[card] = fit.new
            cards.append(card_rows)
    segments: list[SegmentCard] = []
    if by_segment is not None and spec.default_scorecard in weights:
        values = account_segments(workspace.duckdb, by_segment, labelled["account_id"])
        more_fits, more_cards, segments, more_notes = fit_segments(
            fitted_history, labelled, train, values, by_segment, reversed_signals
        )
        fits += more_fits
        notes += more_notes
        weights.update({fit.scorecard: fit.new for fit in more_fits})
        cards = [
            fallback_rows(c, values, segments) if c.card == spec.default_scorecard else c
            for c in cards
        ] + more_cards
    elif by_segment is not None:
        notes.append(
            f"--by-segment {by_segment}: the default scorecard was not refitted, so no segment is"
        )
    name = proposed_name(model.name, today or dt.date.today())
    header = (
        f"Proposed by `vitalsign calibrate` from model {model.name} ({model.hash}), "
        f"horizon {horizon_days} days,\ntrained on snapshots {train_dates[0]} to "
        f"{train_dates[-1]}. Review it, then run `vitalsign diff` before deploying."
    )
    routes = [(c.scorecard, spec.default_scorecard, c.when) for c in segments]
    draft_text = with_learned_scales(
        propose_text(model, weights, reversed_signals, None, flat, header, name, routes), learned
    )
    draft = parse_model(draft_text, "<proposed model>")
    eval_dates = sorted(set(train_dates) | set(test_dates) | {history.dates[-1]})
    new_history = history_from_scored(
        compute_scores(connect_engine(workspace), draft, eval_dates), draft
    )
    old_history = _old_history(workspace, model, history, eval_dates)
    new_bands, rule = proposed_bands(
        spec,
        old_history,
        new_history,
        outcomes,
        horizon_days,
        train_dates,
        shares,
        rates,
        notes,
        held,
    )
    text = with_learned_scales(
        propose_text(model, weights, reversed_signals, new_bands, flat, header, name, routes),
        learned,
    )
    proposed = parse_model(text, "<proposed model>")
    rebanded = new_history.scores.copy()
    rebanded["computed_band"] = assign_bands(rebanded, proposed.spec)
    rebanded["band"] = rebanded["computed_band"]
    final = History(proposed, rebanded, new_history.items, "recomputed", (proposed.hash,))
    comparison = compare_histories(
        old_history, final, outcomes, horizon_days, replicates, seed, evaluate_dates=test_dates,
        known_sample="out-of-sample" if out_of_time else "in-sample",
    )  # fmt: skip
    if data is not None and learned and not out_of_time:
        cards = relearning(data, cards, labelled, reversed_signals)
    protocol = out_of_sample(
        labelled, usable, old_history, final, cards, weights, reversed_signals, held,
        (train_dates, test_dates) if out_of_time else None, holdout_share, replicates, seed,
    )  # fmt: skip
    validation = Validation(
        "out-of-time" if out_of_time else "cross-validation by account",
        train_dates,
        test_dates,
        protocol.pooled_old,
        protocol.pooled_new,
        protocol.pooled_change,
        protocol,
    )
    sample = "out of time: the test dates"
    if not out_of_time:
        notes.append(
            "too few snapshot dates to test out of time: AUCs are cross-validated by account"
        )
        sample = (
            "in-sample: the proposal's weights were fitted on these rows (the out-of-sample "
            "figures are the folds and the held-out accounts)"
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
        comparison_sample=sample,
        learned_scales=list(learned.values()),
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
    return history_from_scored(compute_scores(connect_engine(workspace), model, dates), model)


def proposal_path(output: Path | None, model: LoadedModel, workspace: Workspace) -> Path:
    """Return where the proposal goes: `output`, or MODEL.proposed.yml next to the model."""
    if output is not None:
        return output
    folder = model.path.parent if model.path is not None else workspace.root / "models"
    stem = model.path.stem if model.path is not None else model.name
    return folder / f"{stem}.proposed.yml"
