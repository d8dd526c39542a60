"""Learned scales in calibrate: learn them on the training rows, relearn per fold, write them.

`learn_for_calibration` learns the scales on calibrate's training rows (never the test dates
nor the held-out accounts) and gives the history with those points, on which the weights are
then fitted. With one snapshot date, `relearning` makes every account fold learn its own
scales from its training accounts, so the fold figures stay out of sample. `with_learned_scales`
writes them into the proposed model (ruamel round trip: the file's comments stay), each with
a comment saying what it was learned from. `ScaleData` holds the learnable signals' raw values
row by row; `reversals` finds the signals `--reverse` turns. The learning itself is
`learned_scales.py`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from vitalsign.analytics.history import History
from vitalsign.analytics.learned_scales import (
    MIN_CHURNED,
    MIN_ROWS,
    Floats,
    LearnedScale,
    Level,
    learn_categorical,
    learn_piecewise,
    learn_thresholds,
    learnable_signals,
)
from vitalsign.analytics.metrics import Bootstrap, auc_estimate
from vitalsign.analytics.protocol import CardRows
from vitalsign.analytics.scale_choice import (
    HAND,
    Learner,
    choose_jointly,
    inner_folds,
    out_of_fold,
)
from vitalsign.engine.points import scale_points
from vitalsign.model.loader import parse_model
from vitalsign.model.spec import CategoricalScale, PiecewiseScale, ThresholdsScale

Found = tuple[
    CategoricalScale | ThresholdsScale | PiecewiseScale,
    list[Level],
    Literal["higher", "lower"] | None,
]

Bools = npt.NDArray[np.bool_]
NUMERIC_CANDIDATES = ("thresholds", "piecewise")  # learned scales a numeric signal may get


@dataclass
class ScaleData:
    """Each learnable signal's raw values and points, row-aligned with the labelled rows."""

    raw: pd.DataFrame
    text: pd.DataFrame
    points: pd.DataFrame
    replaced: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, history: History) -> ScaleData:
        """The wide raw values, texts and points of the history's learnable signals."""
        names = [s for s in learnable_signals(history.model.spec) if s in history.signal_names]
        raw, text = history.wide("raw_value"), history.wide("raw_text")
        points = history.wide("points")
        kinds = {s: history.model.spec.signals[s].scale.type for s in names}  # type: ignore[union-attr]
        return cls(
            raw.reindex(columns=names), text.reindex(columns=names),
            points.reindex(columns=names), kinds,
        )  # fmt: skip

    def learn(
        self,
        rows: Bools,
        churned: Floats,
        accounts: npt.NDArray[np.object_],
        reversed_signals: Collection[str] = (),
    ) -> dict[str, LearnedScale]:
        """Learn every learnable signal's scale on `rows` (a mask over the labelled rows),
        keeping the model's own where a learned one does not predict better within them
        (scale_choice.py: inner folds of the training accounts, so nothing else is seen)."""
        self.notes = []
        y_all = churned[rows]
        fold = inner_folds(accounts[rows])
        candidates: dict[str, dict[str, Floats]] = {}
        inputs: dict[str, tuple[pd.Series | Floats, dict[str, Any]]] = {}
        for name, kind in self.replaced.items():
            value = self.raw[name].to_numpy(dtype="float64")[rows]
            text = self.text[name][rows]
            has = ~np.isnan(value) | text.notna().to_numpy()
            y = y_all[has]
            positives = int(y.sum())
            if has.sum() < MIN_ROWS or min(positives, y.size - positives) < MIN_CHURNED:
                self.notes.append(
                    f"{name}: {int(has.sum())} training rows with a value, {positives} churned "
                    f"(fewer than {MIN_ROWS} rows or {MIN_CHURNED} of either): scale kept"
                )
                continue
            base: dict[str, Any] = {
                "signal": name, "rows": int(has.sum()), "churned": positives,
                "accounts": len(set(accounts[rows][has].astype(str))),
                "mean_rate": float(y.mean()), "replaced": kind,
            }  # fmt: skip
            data: pd.Series | Floats = value
            kinds = list(NUMERIC_CANDIDATES)
            if kind == "categorical":
                keys = text if text.notna().any() else self.raw[name][rows].map(_key)
                data, kinds = keys.reset_index(drop=True).where(has), ["categorical"]
            hand = self.points[name].to_numpy(dtype="float64")[rows]
            hand = np.where(has, 100.0 - hand if name in reversed_signals else hand, np.nan)
            fits = {k: _fitter(data, y_all, k) for k in kinds}
            candidates[name] = out_of_fold(hand, fits, fold)
            inputs[name] = (data, base)
        learned: dict[str, LearnedScale] = {}
        for name, choice in choose_jointly(candidates, y_all).items():
            if choice.winner == HAND:
                self.notes.append(
                    f"{name}: no learned scale predicts churn better together with the other "
                    f"signals, out of fold within the training rows (alone, log-loss "
                    f"{choice.describe()}); scale kept"
                )
                continue
            data, base = inputs[name]
            ok = _has(data)
            part = data[ok] if isinstance(data, np.ndarray) else data[ok].reset_index(drop=True)
            found = _FITS[choice.winner](part, y_all[ok])
            if found is None:  # pragma: no cover - it learned in the inner folds
                continue
            learned[name] = LearnedScale(
                scale=found[0], levels=found[1], better=found[2], chosen=choice.describe(),
                **base,
            )  # fmt: skip
        return learned

    def points_with(self, learned: dict[str, LearnedScale]) -> pd.DataFrame:
        """The points under the learned scales; rows without a value keep their points."""
        points = self.points.copy()
        for name, scale in learned.items():
            new = scale.points(self.raw[name], self.text[name])
            has = ~np.isnan(new)
            column = points[name].to_numpy(dtype="float64", copy=True)
            column[has] = new[has]
            points[name] = column
        return points


def _categorical(keys: pd.Series, y: Floats) -> Found | None:
    found = learn_categorical(keys, y)
    return None if found is None else (found[0], found[1], None)


_FITS: dict[str, Callable[[Any, Floats], Found | None]] = {
    "categorical": _categorical,
    "thresholds": learn_thresholds,
    "piecewise": learn_piecewise,
}


def _has(data: pd.Series | Floats) -> Bools:
    """Rows with a value (a number, or a category)."""
    if isinstance(data, np.ndarray):
        return ~np.isnan(data)
    return data.notna().to_numpy()


def _fitter(data: pd.Series | Floats, y: Floats, kind: str) -> Learner:
    """A learner for scale_choice: learn `kind` on some rows, give points for others."""
    fit = _FITS[kind]
    has = _has(data)

    def learn(train: Bools) -> Callable[[Bools], Floats] | None:
        train = train & has
        part = data[train] if isinstance(data, np.ndarray) else data[train].reset_index(drop=True)
        found = fit(part, y[train])
        if found is None:
            return None
        scale = found[0]

        def points(test: Bools) -> Floats:
            if isinstance(data, np.ndarray):
                return np.asarray(scale_points(pd.Series(data[test]), scale), dtype="float64")
            keys = data[test].reset_index(drop=True)
            return np.asarray(scale_points(keys, scale), dtype="float64")

        return points

    return learn


def _key(value: object) -> str | None:
    """The categorical key of a number: 1.0 is "1" (as the engine reads it)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def history_with_scales(history: History, learned: dict[str, LearnedScale]) -> History:
    """The history with each learned signal's points recomputed from its raw values."""
    if not learned:
        return history
    items = history.items.copy()
    points = items["points"].to_numpy(dtype="float64", copy=True)
    for name, scale in learned.items():
        at = np.flatnonzero((items["name"] == name).to_numpy())
        part = items.iloc[at]
        new = scale.points(part["raw_value"].reset_index(drop=True), part["raw_text"])
        has = ~np.isnan(new)
        points[at[has]] = new[has]
    items["points"] = points
    return replace(history, items=items)


def relearner(
    data: ScaleData,
    card: CardRows,
    churned: Floats,
    accounts: npt.NDArray[np.object_],
    reversed_signals: set[str],
) -> Callable[[Bools], Floats]:
    """A function giving the card's points with scales learned on some of its rows (a fold)."""
    rows = np.flatnonzero(card.mask)
    members = list(card.members)

    def points(train: Bools) -> Floats:
        mask = np.zeros(churned.size, dtype=bool)
        mask[rows[train]] = True
        learned = data.learn(mask, churned, accounts, reversed_signals)
        wide = data.points_with({k: v for k, v in learned.items() if k in members})
        matrix = card.points.copy()
        for j, name in enumerate(members):
            if name not in wide.columns:
                continue  # not learnable: the card's own (reversed where asked) points
            column = wide[name].to_numpy(dtype="float64")[rows]  # learned, or the model's
            turn = name not in learned and name in reversed_signals
            matrix[:, j] = 100.0 - column if turn else column
        return matrix

    return points


def reversals(history: History, labelled: pd.DataFrame, use: pd.Series, seed: int) -> set[str]:
    """Signals whose points, on the training rows, warn of churn the wrong way round."""
    points = history.wide("points")[use.to_numpy()].reset_index(drop=True)
    labels = labelled.loc[use, "churned"].to_numpy(dtype=bool)
    boot = Bootstrap.by_account(labelled.loc[use, "account_id"].to_numpy(), 100, seed)
    found = set()
    for name in points.columns:
        value = points[name].to_numpy(dtype="float64")
        ok = ~np.isnan(value)
        if ok.sum() < 2 or len(np.unique(value[ok])) < 2:
            continue
        if auc_estimate(-value[ok], labels[ok], boot.subset(ok)).high < 0.5:
            found.add(name)
    return found


def learn_for_calibration(
    history: History,
    labelled: pd.DataFrame,
    train: pd.Series,
    reversed_signals: Collection[str] = (),
) -> tuple[History, dict[str, LearnedScale], ScaleData, list[str]]:
    """Learn the scales on the training rows: the re-pointed history, the scales, notes."""
    data = ScaleData.of(history)
    churned = labelled["churned"].to_numpy(dtype="float64")
    accounts = labelled["account_id"].astype(str).to_numpy(dtype=object)
    learned = data.learn(train.to_numpy(dtype=bool), churned, accounts, reversed_signals)
    notes = [f"scale {note}" for note in data.notes]
    for scale in learned.values():
        if isinstance(scale.scale, CategoricalScale):
            shape = f"categorical map of {len(scale.scale.map)} categories"
        elif isinstance(scale.scale, PiecewiseScale):
            shape = f"piecewise with {len(scale.scale.knots)} knots, healthier when {scale.better}"
        else:
            steps = len(scale.scale.steps)
            shape = (
                f"thresholds with {steps} breakpoint{'s' if steps > 1 else ''}, healthier "
                f"when {scale.better}"
            )
        notes.append(
            f"learned scale {scale.signal}: {shape} (was {scale.replaced}), from "
            f"{scale.rows:,} training rows"
        )
    return history_with_scales(history, learned), learned, data, notes


def relearning(
    data: ScaleData, cards: list[CardRows], labelled: pd.DataFrame, reversed_signals: set[str]
) -> list[CardRows]:
    """The cards, each fold of which learns its scales on its own training rows."""
    churned = labelled["churned"].to_numpy(dtype="float64")
    accounts = labelled["account_id"].astype(str).to_numpy(dtype=object)
    return [
        replace(c, relearn=relearner(data, c, churned, accounts, reversed_signals)) for c in cards
    ]


def _number(value: float) -> float | int:
    rounded = round(float(value), 6)
    return int(rounded) if rounded.is_integer() else rounded


def scale_yaml(scale: LearnedScale) -> CommentedMap:
    """The learned scale as a YAML mapping (short lists and maps on one line)."""
    spec = scale.scale
    if isinstance(spec, CategoricalScale):
        mapping = CommentedMap((k, _number(v)) for k, v in spec.map.items())
        mapping.fa.set_flow_style()
        out = CommentedMap([("type", "categorical"), ("map", mapping)])
        if spec.default is not None:
            out["default"] = _number(spec.default)
        return out
    if isinstance(spec, PiecewiseScale):
        knots = CommentedSeq()
        for knot in spec.knots:
            entry = CommentedMap([("value", _number(knot.value)), ("points", _number(knot.points))])
            entry.fa.set_flow_style()
            knots.append(entry)
        return CommentedMap([("type", "piecewise"), ("knots", knots)])
    steps = CommentedSeq()
    for step in spec.steps:
        entry = CommentedMap([("min", _number(step.min)), ("points", _number(step.points))])
        entry.fa.set_flow_style()
        steps.append(entry)
    return CommentedMap([("type", "thresholds"), ("below", _number(spec.below)), ("steps", steps)])


def with_learned_scales(text: str, learned: dict[str, LearnedScale]) -> str:
    """The proposed model's text with the learned scales in place, each explained."""
    if not learned:
        return text
    yaml = YAML(typ="rt")
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(text)
    signals = document["signals"]
    for name in sorted(learned):
        signal = signals[name]
        if signal.fa.flow_style():
            signal.fa.set_block_style()
        signal["scale"] = scale_yaml(learned[name])
        before = "\n".join(learned[name].comment().splitlines())
        signal.yaml_set_comment_before_after_key("scale", before=before, indent=4)
    out = io.StringIO()
    yaml.dump(document, out)
    result = out.getvalue()
    if not result.startswith("#") and text.startswith("#"):  # keep the header comment
        header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
        result = header + result
    parse_model(result, "<proposed model>")  # a proposal that does not load is a bug
    return result
