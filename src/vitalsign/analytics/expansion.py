"""Backtest a score against expansion or contraction: does it rank the accounts that grew?

A snapshot of an account at T is labelled *expanded within H* when the account has an
`expanded` outcome in [T, T + H) (half-open, as for churn) whose ARR grew by at least
`min_change` (`arr_after >= arr_before × (1 + min_change)`; a row without both ARRs counts,
the source said it expanded); *contracted* likewise with `arr_after <= arr_before × (1 −
min_change)`. Rows too recent to know, and accounts that had already churned, are left out
exactly as in the churn backtest (analytics/outcomes.py). For expansion the score read is
the model's expansion score when it has one (higher = more likely to grow), else the health
score (healthier = more likely to grow); for contraction, the health score (lower = more
likely to shrink). The other score is reported beside it. See docs/backtest.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.analytics.backtest import records
from vitalsign.analytics.history import History
from vitalsign.analytics.horizon import too_recent_fix
from vitalsign.analytics.metrics import Bootstrap, Estimate, ap_estimate, auc_estimate, roc_auc
from vitalsign.analytics.outcomes import LABELLED, Outcomes, label_snapshots
from vitalsign.errors import BacktestError

GROWTH_OUTCOMES = ("expanded", "contracted")
SCORE_KINDS = ("expansion", "health")
DEFAULT_MIN_CHANGE = 0.10  # ARR up (or down) by 10 % or more: a seat top-up of 2 % is not
QUINTILES = 5


@dataclass(frozen=True)
class GrowthReport:
    """What an expansion (or contraction) backtest found; `to_dict` is the JSON form."""

    outcome: str  # expanded | contracted
    score_kind: str  # the score tested: expansion | health
    model_name: str
    horizon_days: int
    min_change: float
    observed_until: pd.Timestamp
    outcomes_source: str
    dates: list[dt.date]
    counts: dict[str, int]
    base_rate: float
    roc_auc: Estimate
    pr_auc: Estimate
    other_kind: str | None  # the other score, reported beside it on the same rows
    other_auc: Estimate | None
    quintiles: pd.DataFrame  # quintile, rows, positives, rate, lift, low, high
    signals: pd.DataFrame  # signal, score, coverage, auc: each signal's points against the outcome
    by_date: pd.DataFrame  # as_of, rows, positives, rate, auc
    notes: list[str]

    @property
    def window(self) -> str:
        """The labelling window, in words."""
        return f"[T, T + {self.horizon_days} days)"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "outcome": self.outcome,
            "score": self.score_kind,
            "model": {"name": self.model_name},
            "horizon_days": self.horizon_days,
            "window": self.window,
            "min_change": self.min_change,
            "observed_until": self.observed_until.isoformat(),
            "outcomes_source": self.outcomes_source,
            "dates": [d.isoformat() for d in self.dates],
            "counts": self.counts,
            "base_rate": round(self.base_rate, 6),
            "roc_auc": self.roc_auc.to_dict(),
            "pr_auc": self.pr_auc.to_dict(),
            "other": None
            if self.other_kind is None or self.other_auc is None
            else {"score": self.other_kind, "roc_auc": self.other_auc.to_dict()},
            "quintiles": records(self.quintiles),
            "signals": records(self.signals),
            "by_date": records(self.by_date),
            "notes": self.notes,
        }


def growth_events(outcomes: Outcomes, outcome: str, min_change: float) -> pd.DataFrame:
    """Return account_id, occurred_at of the `outcome` rows whose ARR moved by `min_change`.

    >>> growth_events(read_outcomes(con), "expanded", 0.1)  # doctest: +SKIP
    """
    if outcome not in GROWTH_OUTCOMES:
        raise BacktestError(f"outcome {outcome!r}: use one of {', '.join(GROWTH_OUTCOMES)}")
    if not 0 <= min_change < 1:
        raise BacktestError(
            f"--min-change {min_change:g}: use a share from 0 up to (not including) 1, e.g. 10%"
        )
    rows = outcomes.frame[outcomes.frame["kind"] == outcome]
    before = pd.to_numeric(rows["arr_before"], errors="coerce").to_numpy(dtype="float64")
    after = pd.to_numeric(rows["arr_after"], errors="coerce").to_numpy(dtype="float64")
    unknown = np.isnan(before) | np.isnan(after)
    with np.errstate(invalid="ignore"):
        if outcome == "expanded":  # rounded: 1,200 → 1,320 is 10 % exactly, not 9.99999 %
            moved = np.round(after - before * (1 + min_change), 6) >= 0
        else:
            moved = np.round(after - before * (1 - min_change), 6) <= 0
    keep = rows[unknown | moved]
    return pd.DataFrame(
        {
            "account_id": keep["account_id"].astype(str).to_numpy(),
            "occurred_at": pd.to_datetime(keep["occurred_at"]).astype("datetime64[ns]").to_numpy(),
        }
    )


def label_growth(
    rows: pd.DataFrame, outcomes: Outcomes, horizon_days: int, outcome: str, min_change: float
) -> pd.DataFrame:
    """Add `status` (as for churn) and `grew` (an `outcome` event in [T, T + H)) to rows.

    `rows` has account_id and as_of; `next_at` is the first qualifying event at or after T.
    """
    labelled = label_snapshots(rows, outcomes, horizon_days)
    events = growth_events(outcomes, outcome, min_change).rename(columns={"occurred_at": "next_at"})
    frame = labelled[["account_id", "as_of"]].copy()
    frame["account_id"] = frame["account_id"].astype(str)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["_row"] = range(len(frame))
    found = pd.merge_asof(
        frame.sort_values("as_of"),
        events.sort_values("next_at"),
        left_on="as_of",
        right_on="next_at",
        by="account_id",
        direction="forward",
        allow_exact_matches=True,
    ).sort_values("_row")
    labelled["next_at"] = found["next_at"].to_numpy()
    edge = labelled["as_of"].pipe(pd.to_datetime) + pd.Timedelta(days=horizon_days)
    labelled["grew"] = (pd.to_datetime(labelled["next_at"]) < edge).to_numpy()
    return labelled


def _scores_for(
    history: History, expansion: pd.DataFrame | None, outcome: str, score_kind: str | None
) -> tuple[pd.DataFrame, str, str | None]:
    """Return rows (account_id, as_of, health, expansion) and the score kinds to test."""
    spec = history.model.spec
    rows = history.scores[["account_id", "as_of", "score", "computed_band"]].copy()
    rows["account_id"] = rows["account_id"].astype(str)
    rows["as_of"] = pd.to_datetime(rows["as_of"]).astype("datetime64[ns]")
    rows["health"] = rows["score"].where(rows["computed_band"] != spec.insufficient_band)
    has_expansion = expansion is not None and not expansion.empty
    if has_expansion:
        assert expansion is not None
        keep = [c for c in expansion.columns if c.startswith("points__")]
        extra = expansion[["account_id", "as_of", "expansion_score", *keep]].copy()
        extra["account_id"] = extra["account_id"].astype(str)
        extra["as_of"] = pd.to_datetime(extra["as_of"]).astype("datetime64[ns]")
        rows = rows.merge(extra, on=["account_id", "as_of"], how="left")
        rows = rows.rename(columns={"expansion_score": "expansion"})
    else:
        rows["expansion"] = np.nan
    if score_kind is None:
        score_kind = "expansion" if has_expansion and outcome == "expanded" else "health"
    if score_kind not in SCORE_KINDS:
        raise BacktestError(f"--score {score_kind!r}: use one of {', '.join(SCORE_KINDS)}")
    if score_kind == "expansion" and not has_expansion:
        raise BacktestError(
            f"model {history.model.name!r} has no expansion scores for these dates: add an "
            "`expansion:` section to the model (docs/model.md#expansion) and re-score "
            "(`vitalsign backfill`, or `vitalsign backtest --rescore`), or use --score health"
        )
    other = next(k for k in SCORE_KINDS if k != score_kind) if has_expansion else None
    return rows, score_kind, other


def _direction(outcome: str, values: np.ndarray) -> np.ndarray:
    """Higher means more likely to have the outcome: a score for expansion, its negative else."""
    return values if outcome == "expanded" else -values


def _quintiles(
    risk: np.ndarray, scores: np.ndarray, labels: np.ndarray, base: float
) -> pd.DataFrame:
    """Outcome rate per fifth of `risk` (by rank, so ties split evenly), likeliest fifth first.

    `low` and `high` are the range of the score itself in each fifth.
    """
    order = pd.Series(risk).rank(method="first").to_numpy()
    fifth = np.minimum((order - 1) * QUINTILES // len(risk), QUINTILES - 1).astype(int)
    rows = []
    for q in range(QUINTILES - 1, -1, -1):
        part = fifth == q
        if not part.any():
            continue
        rate = float(labels[part].mean())
        rows.append(
            {
                "quintile": QUINTILES - q,
                "rows": int(part.sum()),
                "positives": int(labels[part].sum()),
                "rate": rate,
                "lift": rate / base if base else float("nan"),
                "low": float(scores[part].min()),
                "high": float(scores[part].max()),
            }
        )
    return pd.DataFrame(
        rows, columns=["quintile", "rows", "positives", "rate", "lift", "low", "high"]
    )


def _signals(
    history: History, evaluated: pd.DataFrame, use: np.ndarray, outcome: str
) -> pd.DataFrame:
    """Each signal's points against the outcome: the expansion score's, then the health score's.

    `auc` above 0.5: more points go with the outcome for expanded (fewer for contracted), as
    the score that holds the signal means them to.
    """
    labels = evaluated["grew"].to_numpy(dtype=bool)
    rows = []
    expansion = history.model.spec.expansion
    for name in expansion.signals if expansion is not None else {}:
        column = f"points__{name}"
        if column in evaluated:
            rows.append(("expansion", name, evaluated[column].to_numpy(dtype="float64")))
    health = history.wide("points")
    if not health.empty:
        health = health[use].reset_index(drop=True)
        rows += [("health", n, health[n].to_numpy(dtype="float64")) for n in health.columns]
    table = []
    for score, name, points in rows:
        present = ~np.isnan(points)
        auc = roc_auc(_direction(outcome, points[present]), labels[present])
        table.append(
            {"signal": name, "score": score, "coverage": float(present.mean()), "auc": auc}
        )
    return pd.DataFrame(table, columns=["signal", "score", "coverage", "auc"])


def _by_date(rows: pd.DataFrame, outcome: str) -> pd.DataFrame:
    parts = []
    for key, part in rows.groupby("as_of"):
        labels = part["grew"].to_numpy(dtype=bool)
        risk = _direction(outcome, part["tested"].to_numpy(dtype="float64"))
        parts.append(
            {
                "as_of": pd.Timestamp(str(key)).date(),
                "rows": len(part),
                "positives": int(labels.sum()),
                "rate": float(labels.mean()),
                "auc": roc_auc(risk, labels),
            }
        )
    return pd.DataFrame(parts, columns=["as_of", "rows", "positives", "rate", "auc"])


def evaluate_growth(
    history: History,
    outcomes: Outcomes,
    expansion: pd.DataFrame | None = None,
    outcome: str = "expanded",
    horizon_days: int = 90,
    min_change: float = DEFAULT_MIN_CHANGE,
    score_kind: str | None = None,
    replicates: int = 200,
    seed: int = 0,
) -> GrowthReport:
    """Backtest a history's health (or expansion) score against expansions or contractions.

    `expansion` holds the expansion scores (account_id, as_of, expansion_score), if any.
    """
    rows, kind, other = _scores_for(history, expansion, outcome, score_kind)
    labelled = label_growth(rows, outcomes, horizon_days, outcome, min_change)
    labelled["tested"] = labelled[kind]
    scored = labelled["tested"].notna()
    use = (labelled["status"] == LABELLED) & scored
    evaluated = labelled[use].reset_index(drop=True)
    aligned = use.to_numpy()  # history.scores' rows (label_growth keeps their order)
    labels = evaluated["grew"].to_numpy(dtype=bool)
    counts = {
        "rows": len(labelled),
        "labelled": int((labelled["status"] == LABELLED).sum()),
        "censored": int((labelled["status"] == "censored").sum()),
        "churned_before": int((labelled["status"] == "churned_before").sum()),
        "unscored": int(((labelled["status"] == LABELLED) & ~scored).sum()),
        "evaluated": len(evaluated),
        "positives": int(labels.sum()),
        "accounts": int(evaluated["account_id"].nunique()),
    }
    if evaluated.empty or labels.all() or not labels.any():
        raise BacktestError(
            _nothing_to_test(counts, history.dates, outcomes, horizon_days, outcome)
        )
    boot = Bootstrap.by_account(evaluated["account_id"].to_numpy(), replicates, seed)
    values = evaluated["tested"].to_numpy(dtype="float64")
    risk = _direction(outcome, values)
    other_auc = None
    if other is not None:
        both = evaluated[other].notna().to_numpy()
        other_risk = _direction(outcome, evaluated[other].to_numpy(dtype="float64"))
        other_auc = auc_estimate(other_risk[both], labels[both], boot.subset(both))
    base = float(labels.mean())
    return GrowthReport(
        outcome=outcome,
        score_kind=kind,
        model_name=history.model.name,
        horizon_days=horizon_days,
        min_change=min_change,
        observed_until=outcomes.observed_until,
        outcomes_source=outcomes.source,
        dates=history.dates,
        counts=counts,
        base_rate=base,
        roc_auc=auc_estimate(risk, labels, boot),
        pr_auc=ap_estimate(risk, labels, boot),
        other_kind=other,
        other_auc=other_auc,
        quintiles=_quintiles(risk, values, labels, base),
        signals=_signals(history, evaluated, aligned, outcome),
        by_date=_by_date(evaluated, outcome),
        notes=_notes(labelled[use], horizon_days, outcome, counts, outcomes),
    )


def _notes(
    rows: pd.DataFrame, horizon_days: int, outcome: str, counts: dict[str, int], outcomes: Outcomes
) -> list[str]:
    notes = []
    edge = pd.to_datetime(rows["as_of"]) + pd.Timedelta(days=horizon_days)
    on_edge = int((pd.to_datetime(rows["next_at"]) == edge).sum())
    if on_edge:
        notes.append(
            f"{on_edge} labelled rows have their next {outcome} row exactly {horizon_days} days "
            f"after the snapshot and count as not {outcome}: the window [T, T + {horizon_days} "
            f"days) is half-open (--horizon {horizon_days + 1}d would count them)"
        )
    if counts["censored"]:
        notes.append(
            f"{counts['censored']} rows are too recent to know their outcome (snapshot + "
            f"horizon after {outcomes.observed_until:%Y-%m-%d}, or a tenure end not yet known "
            "to be a churn) and are left out"
        )
    if counts["unscored"]:
        notes.append(
            f"{counts['unscored']} labelled rows have no score of the kind tested (insufficient "
            "data, or expansion coverage below its min_coverage) and are left out"
        )
    return notes


def _nothing_to_test(
    counts: dict[str, int], dates: list[dt.date], outcomes: Outcomes, horizon_days: int, kind: str
) -> str:
    found = (
        f"nothing to test the score on: of {counts['rows']} snapshot rows, {counts['censored']} "
        f"are too recent to know their {horizon_days}-day outcome, {counts['churned_before']} "
        f"had already churned, and {counts['positives']} of the {counts['evaluated']} left "
        f"{kind}"
    )
    if counts["evaluated"] == 0 and counts["censored"] > 0:
        return f"{found}. {too_recent_fix(dates, outcomes.observed_until, horizon_days)}"
    if counts["positives"] == 0:
        return (
            f"{found}. No {kind} row (beyond --min-change) falls in a window [T, T + "
            f"{horizon_days} days) of a labelled snapshot (the data ends "
            f"{outcomes.observed_until:%Y-%m-%d}): check the outcomes with `vitalsign outcomes`, "
            "lower --min-change, or use a longer --horizon"
        )
    return f"{found}. Every labelled row {kind}: check the outcomes with `vitalsign outcomes`"
