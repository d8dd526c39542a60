"""Fit one scorecard's weights, for the whole portfolio or per segment of accounts.

`fit_scorecard` fits the weights of one scorecard on some training rows (the per-scorecard
step of calibrate). With `--by-segment COLUMN`, calibrate also fits the default scorecard
separately for each value of an account column (e.g. `segment`: smb, mid-market,
enterprise) that has at least MIN_SEGMENT_CHURNED churned and as many non-churned training
rows; the proposal gets one scorecard per such segment and a segment rule sending its
accounts there. Smaller segments fall back to the portfolio weights: the default scorecard
fitted on every training row, as without `--by-segment`.

The new segment rules are named `default`, the segment of every account no rule matches, so
a percentile scale keeps ranking these accounts among the same peers; they come after the
model's own rules, so an account an existing rule routes keeps its scorecard. The column's
value is the account's current one (accounts are not versioned by segment).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.analytics.history import History
from vitalsign.analytics.protocol import CardRows
from vitalsign.analytics.weights import fit_weights, scorecard_tree
from vitalsign.errors import VitalsignError
from vitalsign.model.spec import Group

MIN_CHURNED = 20  # churned training rows a scorecard needs to be refitted
MIN_SEGMENT_CHURNED = 50  # churned (and non-churned) training rows a segment needs
UNMATCHED = "default"  # the segment name of accounts no rule matches


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
    segment: str | None = None  # the segment value this scorecard was fitted for


@dataclass(frozen=True)
class SegmentCard:
    """A scorecard fitted for one segment, and the rule that sends its accounts to it."""

    value: str
    scorecard: str
    when: str


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


def training_matrix(history: History, rows: pd.Series, card: str) -> tuple[pd.DataFrame, list[str]]:
    """The points of a scorecard's signals on some rows of the history."""
    groups = history.model.spec.scorecards[card]
    points = history.wide("points")[rows.to_numpy()]
    members = [s for s in nominal_weights(groups) if s in points.columns]
    return points[members], members


def fit_scorecard(
    history: History,
    labelled: pd.DataFrame,
    rows: pd.Series,
    card: str,
    reversed_signals: set[str],
    name: str | None = None,
    segment: str | None = None,
) -> tuple[ScorecardFit, CardRows | None, str | None]:
    """Fit scorecard `card` on `rows`; return its fit, its rows for validation, and a note.

    `name` is the fitted scorecard's own name (a segment's copy of `card`).
    """
    label = name or card
    groups = history.model.spec.scorecards[card]
    points, members = training_matrix(history, rows, card)
    churned = labelled.loc[rows, "churned"].to_numpy(dtype="float64")
    old = nominal_weights(groups)
    count, positives = int(rows.sum()), int(churned.sum())
    if positives < MIN_CHURNED or not members:
        note = f"scorecard {label!r}: {positives} churned training rows; weights kept"
        return ScorecardFit(label, count, positives, math.nan, old, old, False, segment), None, note
    matrix = points.to_numpy(dtype="float64")
    for j, signal in enumerate(members):
        if signal in reversed_signals:
            matrix[:, j] = 100.0 - matrix[:, j]
    tree = scorecard_tree(groups, members)
    accounts = labelled.loc[rows, "account_id"].to_numpy()
    fit = fit_weights(matrix, churned, tree, accounts)
    if fit.beta.sum() <= 0:
        note = f"scorecard {label!r}: no signal predicts churn; weights kept"
        return (
            ScorecardFit(label, count, positives, fit.penalty, old, old, False, segment),
            None,
            note,
        )
    new = {s: float(100 * b / fit.beta.sum()) for s, b in zip(members, fit.beta, strict=True)}
    card_rows = CardRows(
        label, rows.to_numpy(), matrix, churned, accounts, tree, members, fit.penalty
    )
    return (
        ScorecardFit(label, count, positives, fit.penalty, old, new, True, segment),
        card_rows,
        None,
    )


def account_segments(connection: Any, column: str, accounts: pd.Series) -> pd.Series:
    """Each row's account's value of `column` in the accounts table (as text; NaN if none)."""
    columns = [row[0] for row in connection.execute("DESCRIBE accounts").fetchall()]
    if column not in columns:
        raise VitalsignError(
            f"--by-segment {column!r}: the accounts table has no such column; use one of "
            f"{', '.join(c for c in columns if c not in ('account_id', 'name'))}"
        )
    frame = connection.execute(f'SELECT account_id, "{column}" AS value FROM accounts').df()
    lookup = dict(zip(frame["account_id"].astype(str), frame["value"], strict=True))
    return accounts.astype(str).map(
        lambda key: None if pd.isna(lookup.get(key)) else str(lookup[key])
    )


def segment_name(card: str, value: str) -> str:
    """The scorecard name for a segment's copy of `card`, e.g. default_mid_market."""
    slug = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or "blank"
    return f"{card}_{slug}"


def fit_segments(
    history: History,
    labelled: pd.DataFrame,
    train: pd.Series,
    values: pd.Series,
    column: str,
    reversed_signals: set[str],
) -> tuple[list[ScorecardFit], list[CardRows], list[SegmentCard], list[str]]:
    """Fit the default scorecard per segment with enough outcomes; note the ones that fall back."""
    base = history.model.spec.default_scorecard
    on_base = train & (labelled["scorecard"] == base)
    fits, cards, segments, notes = [], [], [], []
    taken = {base, *history.model.spec.scorecards}
    for value in sorted({v for v in values[on_base] if v is not None}):
        rows = on_base & (values == value)
        churned = int(labelled.loc[rows, "churned"].sum())
        if min(churned, int(rows.sum()) - churned) < MIN_SEGMENT_CHURNED or "'" in value:
            notes.append(
                f"segment {column} = {value!r}: {churned} churned and {int(rows.sum()) - churned} "
                f"other training rows (fewer than {MIN_SEGMENT_CHURNED} of either): uses the "
                "portfolio weights"
            )
            continue
        name = segment_name(base, value)
        if name in taken:
            notes.append(
                f"segment {value!r}: scorecard {name!r} exists; uses the portfolio weights"
            )
            continue
        fit, card_rows, note = fit_scorecard(
            history, labelled, rows, base, reversed_signals, name, value
        )
        if card_rows is None:
            notes.append(f"{note}: segment {value!r} uses the portfolio weights")
            continue
        taken.add(name)
        fits.append(fit)
        cards.append(card_rows)
        segments.append(SegmentCard(value, name, f"{column} == '{value}'"))
    return fits, cards, segments, notes


def fallback_rows(base: CardRows, values: pd.Series, segments: list[SegmentCard]) -> CardRows:
    """The portfolio scorecard, applied only to the rows of segments without their own."""
    fitted = {s.value for s in segments}
    own = values[base.mask].isin(fitted).to_numpy()
    return CardRows(
        base.card, base.mask, base.points, base.churned, base.accounts, base.tree,
        base.members, base.penalty, apply=~np.asarray(own, dtype=bool),
    )  # fmt: skip
