"""The quarterly review: is the score still right, and what should change?

One call (`run_review`, or `vitalsign review`) does what a CS-ops lead would do each quarter:

1. **Backtest** the last quarter whose outcomes are known: the snapshots of the `period`
   (90 days) ending at the latest snapshot one horizon before the data's end.
2. **Band churn rates drifting**: each band's churn rate in that quarter against the quarter
   before, with account-bootstrap intervals (`band_drift.py`).
3. **Drift** of each signal: its raw values in the snapshots of the last `period` against
   those of the period before, by the population stability index (`drift.py`).
4. **Calibrate** on the history up to the review date (`calibrate.py`): the proposal file is
   written next to the report, and its weight stability over folds is the weight check.
5. **Compare with the previous review** stored in the reviews folder (`review_store.py`).

Reports are JSON and self-contained HTML in `reviews/<as_of>/` of the workspace (see
docs/backtest.md, "Quarterly review").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vitalsign.analytics.backtest import BacktestReport, evaluate_history
from vitalsign.analytics.band_drift import BandDrift, band_drift
from vitalsign.analytics.calibrate import Calibration, calibrate
from vitalsign.analytics.drift import SignalDrift, drift_table, signal_drift
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.outcomes import LABELLED, label_snapshots, read_outcomes
from vitalsign.analytics.progress import Step, no_progress
from vitalsign.analytics.review_compare import compare, weight_moves
from vitalsign.analytics.review_store import (
    previous_review,
    review_folder,
    reviews_root,
    write_json,
)
from vitalsign.analytics.weight_stability import SignalStability
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

DEFAULT_PERIOD_DAYS = 90
REVIEW_STAGES = 7  # the stages `run_review` reports to its `progress` callback
EARLIER = "earlier quarter"  # the first of two compared periods (JSON key "last")
LATER = "later quarter"  # the second, ending at the review date or the last labelled date ("this")


@dataclass(frozen=True)
class Quarter:
    """The snapshot dates of one review period."""

    first: dt.date  # the period's first day (exclusive of the day before)
    last: dt.date
    dates: list[dt.date]

    def span(self) -> str:
        """Its dates as people read them: `2025-06-04 to 2025-09-01`."""
        return f"{self.first} to {self.last}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "dates": [d.isoformat() for d in self.dates],
        }


def quarter_heading(label: str, quarter: Quarter) -> str:
    """One period named the same way in the CLI, the HTML report and the web page."""
    return f"{label} ({quarter.span()})"


def _quarter(dates: list[dt.date], end: dt.date, period_days: int) -> Quarter:
    first = end - dt.timedelta(days=period_days - 1)
    return Quarter(first, end, [d for d in dates if first <= d <= end])


@dataclass(frozen=True)
class ReviewReport:
    """Everything one review found; `to_dict` is the JSON form stored in its folder."""

    model_name: str
    model_hash: str
    as_of: dt.date
    period_days: int
    horizon_days: int
    observed_until: pd.Timestamp
    drift_quarters: tuple[Quarter, Quarter]  # earlier, later: signal drift
    labelled_quarters: tuple[Quarter, Quarter] | None  # earlier, later: band churn, backtest
    backtest: BacktestReport | None
    signal_drift: list[SignalDrift]
    score_drift: SignalDrift
    band_drift: list[BandDrift]
    calibration: Calibration | None
    previous: dict[str, Any] | None  # the previous review's JSON
    folder: Path
    notes: list[str] = field(default_factory=list)
    proposed: bool = True  # False: `--no-propose`, no calibration was asked for

    @property
    def stability(self) -> list[SignalStability]:
        """Each signal's weight over the calibration's folds (empty without a calibration)."""
        protocol = None if self.calibration is None else self.calibration.validation.protocol
        return [] if protocol is None else protocol.stability

    @property
    def weights(self) -> dict[str, dict[str, float]]:
        """The proposal's weights (% of each scorecard), by scorecard and signal."""
        if self.calibration is None:
            return {}
        return {f.scorecard: dict(f.new) for f in self.calibration.fits}

    def weight_moves(self) -> list[dict[str, Any]]:
        """Proposed weights against the previous review's proposal, biggest move first."""
        return weight_moves(self.previous, self.weights)

    def comparison(self) -> dict[str, Any] | None:
        """The headline figures of the previous review next to this one's."""
        if self.previous is None:
            return None
        roc_now = None if self.backtest is None else self.backtest.roc_auc.to_dict()
        return compare(self.previous, roc_now, self.signal_drift, self.weights)

    def findings(self) -> list[str]:
        """What needs attention, one line each (empty when nothing does)."""
        lines = [
            f"signal {d.signal}: {d.level} drift (PSI {d.psi:.2f})"
            for d in self.signal_drift
            if d.level in ("moderate", "significant")
        ]
        lines += [
            f"band {b.band}: churn rate {b.last_rate.value:.1%} → {b.this_rate.value:.1%} "
            f"(change {b.change.value:+.1%} [{b.change.low:+.1%}, {b.change.high:+.1%}])"
            for b in self.band_drift
            if b.drifting
        ]
        lines += [
            f"weight of {s.signal} ({s.scorecard}): {flag}"
            for s in self.stability
            for flag in s.flags
        ]
        lines += [
            f"proposed weight of {m['signal']} moved {m['move']:+.0f} points since the "
            "previous review"
            for m in self.weight_moves()
            if m["flagged"]
        ]
        compared = self.comparison()
        if compared is not None and compared["roc_auc"]["fell"]:
            auc = compared["roc_auc"]
            beyond = (
                "no interval to judge the noise by"
                if auc["change_low"] is None
                else f"change {auc['change']:+.3f} [{auc['change_low']:+.3f}, "
                f"{auc['change_high']:+.3f}], beyond the noise"
            )
            lines.append(
                f"ROC-AUC fell by {-auc['change']:.3f} since the review of "
                f"{compared['as_of']} ({beyond})"
            )
        if self.backtest is not None and not self.backtest.monotone:
            lines.append("bands are not ordered by churn in the reviewed quarter")
        if self.calibration is not None and self.calibration.validation.supported:
            lines.append(f"the calibrated proposal is better: {self.calibration.verdict}")
        return lines

    def weights_unchecked(self) -> str | None:
        """Why weight stability was not checked (None when it was)."""
        if not self.proposed:
            return "weight stability was not checked (--no-propose)"
        if not self.stability:
            return "weight stability was not checked (no weight was refitted; see the notes)"
        return None

    def all_clear(self) -> str:
        """The line shown when nothing needs attention: what was checked, and what was not."""
        unchecked = self.weights_unchecked()
        if unchecked is None:
            return "Nothing needs attention: no drift, no band drifting, weights stable."
        return f"Nothing needs attention in drift, band churn and the backtest; {unchecked}."

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        c = self.calibration
        return {
            "kind": "vitalsign review",
            "model": {"name": self.model_name, "hash": self.model_hash},
            "as_of": self.as_of.isoformat(),
            "period_days": self.period_days,
            "horizon_days": self.horizon_days,
            "observed_until": self.observed_until.isoformat(),
            "drift_quarters": {
                "last": self.drift_quarters[0].to_dict(),
                "this": self.drift_quarters[1].to_dict(),
            },
            "labelled_quarters": None
            if self.labelled_quarters is None
            else {
                "last": self.labelled_quarters[0].to_dict(),
                "this": self.labelled_quarters[1].to_dict(),
            },
            "findings": self.findings(),
            "all_clear": self.all_clear(),
            "weights_unchecked": self.weights_unchecked(),
            "backtest": None if self.backtest is None else self.backtest.to_dict(),
            "signal_drift": [d.to_dict() for d in self.signal_drift],
            "score_drift": self.score_drift.to_dict(),
            "band_drift": [b.to_dict() for b in self.band_drift],
            "weight_stability": [s.to_dict() for s in self.stability],
            "proposal": None
            if c is None
            else {
                "path": str(c.path) if c.path else None,
                "hash": c.proposed.hash,
                "supported": c.validation.supported,
                "verdict": c.verdict,
                "weights": {
                    card: {k: round(v, 3) for k, v in w.items()} for card, w in self.weights.items()
                },
            },
            "previous": self.comparison(),
            "notes": self.notes,
            "folder": str(self.folder),
        }


def history_on(history: History, dates: list[dt.date]) -> History:
    """The part of `history` on `dates`."""
    keep = set(dates)
    on_score = pd.to_datetime(history.scores["as_of"]).dt.date.isin(keep).to_numpy()
    on_item = pd.to_datetime(history.items["as_of"]).dt.date.isin(keep).to_numpy()
    scores = history.scores[on_score].reset_index(drop=True)
    items = history.items[on_item].reset_index(drop=True)
    return History(history.model, scores, items, history.source, history.hashes)


def _values(history: History) -> pd.DataFrame:
    """Each signal's raw value per row of the history (text for categorical signals)."""
    numbers = history.wide("raw_value")
    texts = history.wide("raw_text")
    for name in numbers.columns:
        if numbers[name].isna().all() and name in texts and texts[name].notna().any():
            numbers[name] = texts[name]
    return numbers


def _observed_until(workspace: Workspace, as_of: dt.date) -> dt.datetime:
    """The data as it stood on `as_of`: its start, or the data's end when that is earlier.

    Never later than the data's end: a period scheduled to end after the data would count
    as a churn that nobody saw.
    """
    from vitalsign.store.data_end import data_end

    end = data_end(workspace.duckdb).at.to_pydatetime()
    return min(dt.datetime.combine(as_of, dt.time()), end)


def run_review(
    workspace: Workspace,
    model: LoadedModel | None = None,
    as_of: dt.date | None = None,
    period_days: int = DEFAULT_PERIOD_DAYS,
    horizon_days: int = 90,
    replicates: int = 200,
    seed: int = 0,
    folder: Path | None = None,
    propose: bool = True,
    leak_dates: int = 1,
    progress: Step = no_progress,
) -> ReviewReport:
    """Review `model` (default: the workspace's) as of `as_of` (default: its latest snapshot).

    Writes review.json, review.html and the proposal into `folder` (default:
    `reviews/<as_of>/` of the workspace) and returns the report.

    >>> review = run_review(open_workspace("acme"))  # doctest: +SKIP
    >>> review.findings()  # doctest: +SKIP
    ['signal nps_latest: significant drift (PSI 0.31)']
    """
    from vitalsign.analytics.review_html import write_review_html

    model = model or workspace.load_model()
    progress("reading the score history")
    stored = read_history(workspace.duckdb, model)
    every = stored.dates
    day = as_of or every[-1]
    dates = [d for d in every if d <= day]
    if not dates:
        raise BacktestError(
            f"no snapshots of model {model.name!r} on or before {day} (the first is "
            f"{every[0]}); pick a later --as-of"
        )
    history = history_on(stored, dates)
    this = _quarter(dates, day, period_days)
    last = _quarter(dates, this.first - dt.timedelta(days=1), period_days)
    if not last.dates:
        start = last.first
        raise BacktestError(
            f"no snapshots of model {model.name!r} in the quarter before {this.first} "
            f"({start} to {last.last}) to compare with; backfill it, e.g. `vitalsign backfill "
            f"--from {start} --to {this.last} --every 7d`, or pass a shorter --period"
        )
    notes: list[str] = []
    progress(f"signal drift ({len(last.dates)} against {len(this.dates)} snapshot dates)")
    values = _values(history)
    day_of = pd.to_datetime(history.scores["as_of"]).dt.date
    in_last = day_of.isin(set(last.dates)).to_numpy()
    in_this = day_of.isin(set(this.dates)).to_numpy()
    drift = drift_table(values[in_last], values[in_this])
    score_drift = signal_drift(
        "score", history.scores["score"][in_last], history.scores["score"][in_this]
    )
    progress("reading the outcomes")
    until = None if as_of is None else _observed_until(workspace, as_of)
    outcomes = read_outcomes(workspace.duckdb, until)
    labelled = label_snapshots(
        history.scores.assign(band=history.scores["computed_band"]), outcomes, horizon_days
    )
    known = sorted({t.date() for t in labelled.loc[labelled["status"] == LABELLED, "as_of"]})
    quarters: tuple[Quarter, Quarter] | None = None
    report: BacktestReport | None = None
    bands: list[BandDrift] = []
    progress("backtest of the last quarter with known outcomes")
    if not known:
        notes.append(
            f"no snapshot is old enough to know its {horizon_days}-day outcome (data until "
            f"{outcomes.observed_until:%Y-%m-%d}): no backtest, no band churn rates"
        )
    else:
        done = _quarter(known, known[-1], period_days)
        before = _quarter(known, done.first - dt.timedelta(days=1), period_days)
        quarters = (before, done)
        try:
            report = evaluate_history(
                history_on(history, done.dates), outcomes, horizon_days, replicates, seed,
                workspace.duckdb, leak_dates,
            )  # fmt: skip
        except BacktestError as exc:
            notes.append(f"backtest of {done.first} to {done.last}: {exc}")
        progress("band churn rates, this quarter against the one before")
        rows = labelled[labelled["status"] == LABELLED].copy()
        rows_day = rows["as_of"].dt.date
        rows["quarter"] = None
        rows.loc[rows_day.isin(set(before.dates)), "quarter"] = "last"
        rows.loc[rows_day.isin(set(done.dates)), "quarter"] = "this"
        rows = rows[rows["quarter"].notna()]
        bands = band_drift(rows, model.spec.band_names, replicates, seed)
        if not before.dates:
            notes.append(
                f"no labelled snapshots in the quarter before {done.first}: band churn rates "
                "have nothing to compare with"
            )
    root = (folder or review_folder(reviews_root(workspace), day)).resolve()
    calibration: Calibration | None = None
    progress("calibrating a proposal on the history up to the review date")
    stem = model.path.stem if model.path is not None else model.name
    if not propose:
        stale = root / f"{stem}.proposed.yml"
        earlier = (
            f"; the {stale.name} in this folder is from an earlier run, not this review's"
            if stale.is_file()
            else ""
        )
        notes.append(f"no calibrated proposal: not proposed this time (--no-propose){earlier}")
    else:
        try:
            calibration = calibrate(
                workspace, model, horizon_days, output=root / f"{stem}.proposed.yml",
                replicates=replicates, seed=seed, until=until, history=history, force=True,
                today=day,
            )  # fmt: skip
        except BacktestError as exc:
            notes.append(f"no calibrated proposal: {exc}")
        else:
            notes += [f"calibration: {note}" for note in calibration.notes]
    previous = previous_review(reviews_root(workspace), day, model.name, root)
    result = ReviewReport(
        model_name=model.name,
        model_hash=model.hash,
        as_of=day,
        period_days=period_days,
        horizon_days=horizon_days,
        observed_until=outcomes.observed_until,
        drift_quarters=(last, this),
        labelled_quarters=quarters,
        backtest=report,
        signal_drift=drift,
        score_drift=score_drift,
        band_drift=bands,
        calibration=calibration,
        previous=previous,
        folder=root,
        notes=notes,
        proposed=propose,
    )
    progress("writing review.json and review.html")
    write_json(root / "review.json", result.to_dict())
    write_review_html(result, root / "review.html")
    return result
