"""What activating a candidate model would change, before it is activated.

Two parts: each signal's share of its scorecard before and after (read from the two files,
instant), and a backtest comparison of the candidate against the active model on the same
dates and outcomes with the accounts whose band would change (`diff_models`, which re-scores
history under both models). The comparison is capped so that it answers in seconds on small
workspaces: a few dates a month apart, ending one horizon before the data ends (so that
their outcomes are known), plus the latest snapshot date for the band moves.

>>> ws = open_workspace("acme")  # doctest: +SKIP
>>> candidate = ws.load_model("models/default.proposed.yml")  # doctest: +SKIP
>>> preview = preview_activation(ws, ws.load_model(), candidate)  # doctest: +SKIP
>>> preview.comparison.auc_difference  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from vitalsign.analytics.diff import ModelComparison, diff_models
from vitalsign.analytics.outcomes import observed_until
from vitalsign.analytics.progress import Step, no_progress
from vitalsign.analytics.segments import nominal_weights
from vitalsign.engine.profile import profile_workspace
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel
from vitalsign.model.spec import HealthModel
from vitalsign.store.model_text import key_line
from vitalsign.store.workspace import Workspace

PREVIEW_DATES = 6  # labelled dates re-scored under both models (the cap that keeps it quick)
PREVIEW_EVERY_DAYS = 30
PREVIEW_HORIZON_DAYS = 90
PREVIEW_REPLICATES = 100  # bootstrap replicates (the CLI's diff defaults to 200)


@dataclass(frozen=True)
class WeightChange:
    """A signal's share (%) of a scorecard's score under the active and the candidate model."""

    scorecard: str
    signal: str
    before: float | None  # None: not in the active model's scorecard
    after: float | None  # None: not in the candidate's scorecard

    @property
    def change(self) -> float:
        """Percentage points gained (negative: lost)."""
        return (self.after or 0.0) - (self.before or 0.0)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "scorecard": self.scorecard,
            "signal": self.signal,
            "before": self.before,
            "after": self.after,
            "change": round(self.change, 6),
        }


def weight_changes(active: HealthModel, candidate: HealthModel) -> list[WeightChange]:
    """Each signal's share of each scorecard in both models, biggest change first.

    A share is the signal's weight renormalised down its groups when every signal has data;
    the shares of a scorecard add up to 100.
    """
    changes = []
    for card in sorted(set(active.scorecards) | set(candidate.scorecards)):
        before = nominal_weights(active.scorecards[card]) if card in active.scorecards else {}
        after = nominal_weights(candidate.scorecards[card]) if card in candidate.scorecards else {}
        for signal in sorted(set(before) | set(after)):
            changes.append(WeightChange(card, signal, before.get(signal), after.get(signal)))
    return sorted(changes, key=lambda c: (-abs(round(c.change, 6)), c.scorecard, c.signal))


def comparison_dates(
    workspace: Workspace,
    model: LoadedModel,
    horizon_days: int = PREVIEW_HORIZON_DAYS,
    count: int = PREVIEW_DATES,
    every_days: int = PREVIEW_EVERY_DAYS,
) -> list[dt.date]:
    """The dates to compare two models on: `count` dates whose outcomes are known, and the latest.

    They end `horizon_days` before the end of the observed data, `every_days` apart; the
    latest stored snapshot date (of `model`, else of any model) is added for the band moves.
    """
    end = observed_until(workspace.duckdb)
    last = (end - dt.timedelta(days=horizon_days)).date()
    dates = {last - dt.timedelta(days=every_days * i) for i in range(count)}
    stored = snapshot_dates(workspace.duckdb, model.name) or snapshot_dates(workspace.duckdb)
    if stored:
        dates.add(stored[-1])
    return sorted(dates)


@dataclass(frozen=True)
class DataFinding:
    """What `vitalsign check` says of the candidate against the data, at a line of its file."""

    severity: str  # error or warning
    line: int | None
    key: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return dict(self.__dict__)


def data_findings(workspace: Workspace, model: LoadedModel, text: str) -> list[DataFinding]:
    """Profile `model` against the workspace's data as `vitalsign check` does (errors first).

    Empty when no account is loaded; a key without a line (a table) has line None.
    """
    profile = profile_workspace(workspace, model.spec)
    if profile is None:
        return []
    found = [
        DataFinding(f.severity, key_line(text, f.loc), f.loc, f.message) for f in profile.findings
    ]
    return sorted(found, key=lambda f: f.severity != "error")


@dataclass(frozen=True)
class ActivationPreview:
    """What activating `candidate` instead of `active` would change."""

    active: LoadedModel
    candidate: LoadedModel
    weights: list[WeightChange]
    dates: list[dt.date]
    comparison: ModelComparison | None  # None when it could not be computed: see `error`
    error: str | None = None
    findings: list[DataFinding] = field(default_factory=list)  # `check` against the data

    @property
    def changed_weights(self) -> list[WeightChange]:
        """The weight changes of at least 0.05 percentage points."""
        return [w for w in self.weights if abs(w.change) >= 0.05]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "active": {"name": self.active.name, "hash": self.active.hash},
            "candidate": {"name": self.candidate.name, "hash": self.candidate.hash},
            "weights": [w.to_dict() for w in self.weights],
            "dates": [d.isoformat() for d in self.dates],
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "error": self.error,
            "findings": [f.to_dict() for f in self.findings],
        }


def preview_activation(
    workspace: Workspace,
    active: LoadedModel,
    candidate: LoadedModel,
    horizon_days: int = PREVIEW_HORIZON_DAYS,
    replicates: int = PREVIEW_REPLICATES,
    dates: list[dt.date] | None = None,
    count: int = PREVIEW_DATES,
    text: str | None = None,
    progress: Step = no_progress,
) -> ActivationPreview:
    """Compare `candidate` with `active`: weights, and the backtest on capped dates.

    Without `dates`, `count` dates from `comparison_dates`. With the candidate's `text`, its
    profile against the data (`data_findings`) comes too. A comparison the data cannot
    support (no outcomes, no churners on the dates) is reported in `error`, with the weight
    changes and findings still there.
    """
    weights = weight_changes(active.spec, candidate.spec)
    findings = [] if text is None else data_findings(workspace, candidate, text)
    try:
        days = dates or comparison_dates(workspace, active, horizon_days, count)
        comparison = diff_models(
            workspace,
            active,
            candidate,
            days,
            horizon_days=horizon_days,
            replicates=replicates,
            progress=progress,
        )
    except BacktestError as exc:
        return ActivationPreview(active, candidate, weights, dates or [], None, str(exc), findings)
    return ActivationPreview(active, candidate, weights, days, comparison, None, findings)
