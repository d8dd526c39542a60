"""Points → groups → score, coverage, contributions, gate, flags and band, vectorised.

Works on the per-account signal frame the backend returned (one row per account and
date). A group's score is the weighted mean of its available members; weights are
renormalised over what is available, so each signal's effective weight is the product of
its renormalised weights along its path, and the contributions (effective weight × points)
add up to the score before gate and flags.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.engine.group_tree import (
    BLOCK_ROWS,
    evaluate_groups,
    group_weights,
    nominal_weights,
    plan_groups,
    where_present,
)
from vitalsign.engine.points import category_points, fill_missing, numeric_values, scale_points
from vitalsign.engine.signals import ACCOUNT_FIELDS, FLAG_PREFIX, signal_column
from vitalsign.model.spec import CategoricalScale, Group, HealthModel, PercentileScale, Scale

ITEM_COLUMNS = [
    "account_id",
    "as_of",
    "kind",
    "name",
    "path",
    "raw_value",
    "raw_text",
    "points",
    "weight",
    "contribution",
]
MAX_FLAGS_TABULATED = 10  # up to 2**10 flag combinations are spelt out in advance


class ScoredFrame:
    """Scores per account and date, and the signal and group items behind them.

    The items (one row per account, date and signal or group: millions of rows for a large
    portfolio) are built on first use, when a snapshot is written or explained, as one frame
    per scorecard; `items` concatenates them, `item_frames` does not (a copy saved).
    """

    def __init__(
        self,
        scores: pd.DataFrame,
        items: pd.DataFrame | Callable[[], list[pd.DataFrame]],
        expansion: pd.DataFrame | None = None,
    ) -> None:
        self.scores = scores
        self._items = items
        self.expansion = expansion  # expansion scores (engine/expansion.py), if the model has one

    @cached_property
    def item_frames(self) -> list[pd.DataFrame]:
        """The signal and group rows behind the scores, in parts."""
        return [self._items] if isinstance(self._items, pd.DataFrame) else self._items()

    @cached_property
    def items(self) -> pd.DataFrame:
        """The signal and group rows behind the scores."""
        frames = self.item_frames
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def with_scores(self, scores: pd.DataFrame) -> ScoredFrame:
        """Return the same items with other score rows (e.g. after band overrides)."""
        return ScoredFrame(scores, self._items, self.expansion)


def score_frame(frame: pd.DataFrame, model: HealthModel) -> ScoredFrame:
    """Score every row of the signal frame under `model`.

    Rows are ordered by scorecard (as the model lists them), each in frame order.
    """
    cards = list(model.scorecards)
    card_codes = pd.Index(cards).get_indexer(pd.Index(frame["scorecard"]))
    sizes = np.bincount(card_codes + 1, minlength=len(cards) + 1)
    if sizes[0] == len(frame):
        return ScoredFrame(_empty_scores(), pd.DataFrame(columns=ITEM_COLUMNS))
    rows = _CardRows(frame.copy(deep=False), card_codes, int(sizes[0]))
    score_parts: list[dict[str, np.ndarray]] = []
    item_parts: list[Callable[[], pd.DataFrame]] = []
    start = 0
    for card, size in zip(cards, sizes[1:], strict=True):
        if size:
            scores, items = _score_scorecard(rows, start, start + int(size), model, card)
            score_parts.append(scores)
            item_parts.append(items)
        start += int(size)
    scored = {c: np.concatenate([p[c] for p in score_parts]) for c in score_parts[0]}
    return ScoredFrame(
        rows.score_table(scored),
        lambda: [build() for build in item_parts],
    )


class _CardRows:
    """The frame's rows ordered by scorecard; each column is taken once, on first use."""

    def __init__(self, frame: pd.DataFrame, card_codes: np.ndarray, unscored: int) -> None:
        self.frame = frame
        order = np.argsort(card_codes.astype(np.int32), kind="stable")[unscored:]
        in_order = unscored == 0 and bool((np.diff(card_codes) >= 0).all())
        self.order: np.ndarray | None = None if in_order else order
        self._columns: dict[str, pd.Series] = {}
        self._rank_groups: np.ndarray | None = None
        self._categories: dict[str, tuple[np.ndarray, Any, bool]] = {}

    def column(self, name: str) -> pd.Series:
        """Return a column in scorecard order, with a RangeIndex."""
        if name not in self._columns:
            self._columns[name] = pd.Series(self._taken(name), name=name, copy=False)
        return self._columns[name]

    def values(self, name: str) -> np.ndarray:
        """Return a column's values in scorecard order."""
        return self.column(name).to_numpy()

    def _taken(self, name: str) -> Any:
        """Return a column's array in scorecard order (shared with the frame if in order)."""
        column = self.frame[name]
        values = column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
        return values if self.order is None else values.take(self.order)

    def categories(self, name: str) -> tuple[np.ndarray, Any, bool]:
        """Return a column's category codes in scorecard order, its distinct values, and
        whether it is numeric (hashing the column once, then moving small integers)."""
        if name not in self._categories:
            column = self.frame[name]
            codes, distinct = pd.factorize(column)
            ordered = codes if self.order is None else codes[self.order]
            self._categories[name] = (ordered, distinct, pd.api.types.is_numeric_dtype(column))
        return self._categories[name]

    def rank_groups(self) -> np.ndarray:
        """Return codes of (date, segment): accounts ranked together by percentile scales."""
        if self._rank_groups is None:
            dates, _ = pd.factorize(self.frame["as_of"])
            segments, names = pd.factorize(self.frame["model_segment"])
            codes = dates * len(names) + segments
            # rows without a date or segment are in no group (pandas' groupby drops them)
            codes[(dates < 0) | (segments < 0)] = -1
            self._rank_groups = codes if self.order is None else codes[self.order]
        return self._rank_groups

    def score_table(self, scored: dict[str, np.ndarray]) -> pd.DataFrame:
        """Return the score rows: the account's fields, then the scored columns."""
        keys = ["account_id", "as_of", *ACCOUNT_FIELDS, "scorecard", "model_segment"]
        table = {
            k: self._taken(k) if self.order is not None else self._taken(k).copy() for k in keys
        }
        return pd.DataFrame({**table, **scored}, copy=False)


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "account_id",
            "as_of",
            *ACCOUNT_FIELDS,
            "scorecard",
            "model_segment",
            "score",
            "base_score",
            "band",
            "computed_band",
            "coverage",
            "gate_pass",
            "flags",
        ]
    )


def _flags_json(names: list[str], raised: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Return each row's raised flags as a JSON list, building one string per combination."""
    if not names:
        return np.full(n, "[]", dtype=object)
    mask = np.zeros(n, np.int64)
    for i, f in enumerate(names):
        mask |= raised[f].astype(np.int64) << i
    present: list[int] = list(range(1 << len(names)))
    if len(names) > MAX_FLAGS_TABULATED:
        mask, present = _dense(mask)
    combos = [json.dumps([f for i, f in enumerate(names) if m >> i & 1]) for m in present]
    return np.array(combos, dtype=object)[mask]


def _dense(mask: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Return codes 0..k-1 of the mask values, and the values."""
    values, codes = np.unique(mask, return_inverse=True)
    return codes, [int(v) for v in values]


def _raw_text(raw: pd.Series) -> np.ndarray:
    """Return text for categorical raw values; numeric ones live in raw_value (None here)."""
    if pd.api.types.is_numeric_dtype(raw):
        return np.full(len(raw), None, dtype=object)
    codes, uniques = pd.factorize(raw)
    distinct = list(uniques)
    if all(isinstance(v, str) for v in distinct):  # else equal keys (1, 1.0, True) merged
        return np.array([*distinct, None], dtype=object)[codes]
    values = raw.astype(object).to_numpy()
    return np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)


def _signals_in(groups: dict[str, Group]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for gname, group in groups.items():
        found += [(s, gname) for s in group.signals]
        found += [(s, f"{gname}/{p}") for s, p in _signals_in(group.groups)]
    return found


def _truthy(column: pd.Series) -> np.ndarray:
    """Return a boolean column as an array, missing values false."""
    if column.dtype == bool:
        return column.to_numpy()
    return column.fillna(False).to_numpy(dtype=bool)


def _signal_points(rows: _CardRows, start: int, end: int, sname: str, scale: Scale) -> np.ndarray:
    """Return a signal's points (NaN where missing) for the rows start..end."""
    column = signal_column(sname)
    if isinstance(scale, CategoricalScale):
        codes, distinct, numeric = rows.categories(column)
        return category_points(codes[start:end], distinct, numeric, scale)
    raw = rows.column(column).iloc[start:end]
    ranked = isinstance(scale, PercentileScale)
    return scale_points(raw, scale, rows.rank_groups()[start:end] if ranked else None)


def _verdict(
    model: HealthModel,
    base: np.ndarray,
    coverage: np.ndarray,
    gate: np.ndarray,
    raised: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Return the final score (gate and flags applied) and the index of the band."""
    penalty = np.zeros(len(base))
    for f, flag in model.flags.items():
        penalty = penalty + flag.subtract * raised[f]
    final = np.where(gate, np.clip(base - penalty, 0.0, 100.0), 0.0)
    final = np.where(np.isnan(base) & gate, np.nan, final)
    bands = model.bands
    # a weighted mean can land a hair below a band's minimum (69.99999999999999 for 70)
    floor = np.round(np.nan_to_num(final, nan=-1), 9)
    band_index = np.full(len(base), len(bands) - 1)
    for i in range(len(bands) - 1, -1, -1):
        band_index[floor >= bands[i].min] = i
    for f, flag in model.flags.items():
        if flag.cap_band is not None:
            cap_index = model.band_names.index(flag.cap_band)
            band_index = np.where(raised[f], np.maximum(band_index, cap_index), band_index)
    # below the minimum coverage the band says so whatever the score, a failed gate's 0 too
    insufficient = (coverage < model.min_coverage) | np.isnan(final)
    band_index[insufficient] = len(bands)  # the insufficient-data label follows the bands
    return final, band_index


def _score_scorecard(
    rows: _CardRows, start: int, end: int, model: HealthModel, card: str
) -> tuple[dict[str, np.ndarray], Callable[[], pd.DataFrame]]:
    """Score the rows start..end (in scorecard order), which all use scorecard `card`."""
    n = end - start
    groups = model.scorecards[card]
    members = _signals_in(groups)
    # points after the missing policy: a signal whose points come from `missing: zero` or a
    # number counts as covered (a stale table's signals are `skip` here: engine/freshness)
    points: dict[str, np.ndarray] = {}
    complete: set[str] = set()  # signals with points on every row (after the missing policy)
    for sname in dict.fromkeys(s for s, _ in members):
        signal = model.signals[sname]
        assert signal.scale is not None
        points[sname] = fill_missing(_signal_points(rows, start, end, sname, signal.scale), signal)
        if not np.isnan(np.min(points[sname])):  # min is NaN when any value is
            complete.add(sname)
    root = plan_groups(groups, {}, min(n, BLOCK_ROWS), "", complete)  # one block: items redo it
    nominal = _coverage_weights(groups, members)
    raised = {f: _truthy(rows.column(f"{FLAG_PREFIX}{f}").iloc[start:end]) for f in model.flags}
    gate = _truthy(rows.column("gate_pass").iloc[start:end])
    base = np.empty(n)
    final = np.empty(n)
    coverage = np.zeros(n)
    band_index = np.empty(n, np.intp)
    for block_start in range(0, n, BLOCK_ROWS):
        block = slice(block_start, min(block_start + BLOCK_ROWS, n))
        base[block] = evaluate_groups(root, points, block, slice(0, block.stop - block.start))
        covered = coverage[block]
        weight = np.empty(len(covered))
        for sname, nominal_weight in nominal:
            if sname in complete:
                covered += nominal_weight
            else:
                covered += where_present(points[sname][block], nominal_weight, out=weight)
        np.round(covered, 10, out=covered)
        final[block], band_index[block] = _verdict(
            model, base[block], covered, gate[block], {f: r[block] for f, r in raised.items()}
        )
    labels = np.array([*model.band_names, model.insufficient_band], dtype=object)
    band = labels[band_index]
    scores = {
        "score": final,
        "base_score": base,
        "band": band,
        "computed_band": band.copy(),
        "coverage": coverage,
        "gate_pass": gate,
        "flags": _flags_json(list(model.flags), raised, n),
    }

    def build_items() -> pd.DataFrame:
        tree = plan_groups(groups, {}, n, "", complete)  # again, keeping every row's shares
        for block_start in range(0, n, BLOCK_ROWS):
            block = slice(block_start, min(block_start + BLOCK_ROWS, n))
            evaluate_groups(tree, points, block, block)
        rel, weights_below = group_weights(tree)
        groups_list = list(weights_below.items())
        count = len(members) + len(groups_list)
        raws = [rows.column(signal_column(s)).iloc[start:end] for s, _ in members]
        item_columns: dict[str, Any] = {
            "account_id": np.tile(rows.values("account_id")[start:end].astype(object), count),
            "as_of": np.tile(rows.values("as_of")[start:end], count),
            "kind": np.repeat(
                np.array(["signal"] * len(members) + ["group"] * len(groups_list), dtype=object),
                n,
            ),
            "name": np.repeat(
                np.array(
                    [s for s, _ in members] + [p.rsplit("/", 1)[-1] for p, _ in groups_list],
                    dtype=object,
                ),
                n,
            ),
            "path": np.repeat(
                np.array([p for _, p in members] + [p for p, _ in groups_list], dtype=object), n
            ),
            "raw_value": np.concatenate(
                [*[numeric_values(raw) for raw in raws], np.full(n * len(groups_list), np.nan)]
            ),
            "raw_text": np.concatenate(
                [
                    *[_raw_text(raw) for raw in raws],
                    np.full(n * len(groups_list), None, dtype=object),
                ]
            ),
            "points": np.concatenate(
                [*[points[s] for s, _ in members], *[g for g, _ in (v for _, v in groups_list)]]
            ),
            "weight": np.concatenate(
                [*[rel[s] for s, _ in members], *[w for _, w in (v for _, v in groups_list)]]
            ),
        }
        item_columns["contribution"] = (
            np.nan_to_num(item_columns["points"]) * item_columns["weight"]
        )
        return pd.DataFrame({c: item_columns[c] for c in ITEM_COLUMNS}, copy=False)

    return scores, build_items


def _coverage_weights(
    groups: dict[str, Group], members: list[tuple[str, str]]
) -> list[tuple[str, float]]:
    """Return each member's nominal weight, in member order (as coverage adds them up)."""
    nominal = nominal_weights(groups, {})
    return [(sname, nominal[sname]) for sname, _ in members]
