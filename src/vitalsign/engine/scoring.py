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
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.engine.points import apply_missing, to_points
from vitalsign.engine.signals import ACCOUNT_FIELDS, FLAG_PREFIX, signal_column
from vitalsign.model.spec import Group, HealthModel

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


class ScoredFrame:
    """Scores per account and date, and the signal and group items behind them.

    The items (one row per account, date and signal or group: millions of rows for a large
    portfolio) are built on first use, when a snapshot is written or explained.
    """

    def __init__(
        self, scores: pd.DataFrame, items: pd.DataFrame | Callable[[], pd.DataFrame]
    ) -> None:
        self.scores = scores
        self._items = items

    @cached_property
    def items(self) -> pd.DataFrame:
        """The signal and group rows behind the scores."""
        return self._items if isinstance(self._items, pd.DataFrame) else self._items()

    def with_scores(self, scores: pd.DataFrame) -> ScoredFrame:
        """Return the same items with other score rows (e.g. after band overrides)."""
        return ScoredFrame(scores, self._items)


@dataclass
class _Node:
    """Per-row weights of every signal below a group, and the group's score."""

    score: np.ndarray
    rel: dict[str, np.ndarray]  # signal -> weight relative to this group (0 where missing)
    nominal: dict[str, np.ndarray]  # signal -> weight if everything had data
    groups: dict[str, tuple[np.ndarray, np.ndarray]]  # path -> (score, relative weight)


def _evaluate(
    members: dict[str, Group],
    signals: dict[str, float | None],
    points: dict[str, np.ndarray],
    n: int,
    path: str,
) -> _Node:
    parts: list[tuple[float, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]] = []
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for sname, weight in signals.items():
        w = 1.0 if weight is None else float(weight)
        parts.append((w, points[sname], {sname: np.ones(n)}, {sname: np.ones(n)}))
    children: list[tuple[str, _Node]] = []
    for gname, group in members.items():
        child_path = f"{path}/{gname}" if path else gname
        child = _evaluate(group.groups, group.signals, points, n, child_path)
        children.append((child_path, child))
        parts.append((group.weight, child.score, child.rel, child.nominal))
    available = [~np.isnan(score) for _, score, _, _ in parts]
    denominator = sum(w * a for (w, _, _, _), a in zip(parts, available, strict=True))
    nominal_total = sum(w for w, _, _, _ in parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = [
            np.where(a, w / np.where(denominator > 0, denominator, np.nan), 0.0)
            for (w, _, _, _), a in zip(parts, available, strict=True)
        ]
    share = [np.nan_to_num(s) for s in share]
    score = np.where(
        denominator > 0,
        sum(np.nan_to_num(sc) * s for (_, sc, _, _), s in zip(parts, share, strict=True)),
        np.nan,
    )
    rel: dict[str, np.ndarray] = {}
    nominal: dict[str, np.ndarray] = {}
    for (w, _, sub_rel, sub_nominal), s in zip(parts, share, strict=True):
        for sname, r in sub_rel.items():
            rel[sname] = s * r
        for sname, r in sub_nominal.items():
            nominal[sname] = (w / nominal_total) * r
    for (cpath, child), s in zip(children, share[len(signals) :], strict=True):
        groups[cpath] = (child.score, s)
        for gpath, (gscore, gshare) in child.groups.items():
            groups[gpath] = (gscore, gshare * s)
    return _Node(score=score, rel=rel, nominal=nominal, groups=groups)


def score_frame(frame: pd.DataFrame, model: HealthModel) -> ScoredFrame:
    """Score every row of the signal frame under `model`."""
    frame = frame.reset_index(drop=True)
    score_parts: list[pd.DataFrame] = []
    item_parts: list[Callable[[], pd.DataFrame]] = []
    for card, groups in model.scorecards.items():
        rows = frame[frame["scorecard"] == card]
        if rows.empty:
            continue
        scores, items = _score_scorecard(rows.reset_index(drop=True), model, groups)
        score_parts.append(scores)
        item_parts.append(items)
    if not score_parts:
        return ScoredFrame(_empty_scores(), pd.DataFrame(columns=ITEM_COLUMNS))
    return ScoredFrame(
        pd.concat(score_parts, ignore_index=True),
        lambda: pd.concat([build() for build in item_parts], ignore_index=True),
    )


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
    mask = sum(
        (raised[f].astype(np.int64) << i for i, f in enumerate(names)), np.zeros(n, np.int64)
    )
    combos = {
        int(m): json.dumps([f for i, f in enumerate(names) if m >> i & 1]) for m in np.unique(mask)
    }
    return pd.Series(mask).map(combos).to_numpy(dtype=object)


def _as_text(raw: pd.Series) -> np.ndarray:
    """Return text for categorical raw values; numeric ones live in raw_value (None here)."""
    if pd.api.types.is_numeric_dtype(raw):
        return np.full(len(raw), None, dtype=object)
    values = raw.astype(object).to_numpy()
    return np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)


def _signals_in(groups: dict[str, Group]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for gname, group in groups.items():
        found += [(s, gname) for s in group.signals]
        found += [(s, f"{gname}/{p}") for s, p in _signals_in(group.groups)]
    return found


def _score_scorecard(
    rows: pd.DataFrame, model: HealthModel, groups: dict[str, Group]
) -> tuple[pd.DataFrame, Callable[[], pd.DataFrame]]:
    n = len(rows)
    members = _signals_in(groups)
    rank_groups = rows.groupby(["as_of", "model_segment"], sort=False).ngroup()
    points: dict[str, np.ndarray] = {}
    had_data: dict[str, np.ndarray] = {}  # before the missing policy: coverage counts real data
    for sname, _ in members:
        signal = model.signals[sname]
        assert signal.scale is not None
        raw = rows[signal_column(sname)]
        computed = to_points(raw, signal.scale, rank_groups)
        had_data[sname] = computed.notna().to_numpy()
        points[sname] = apply_missing(computed, signal).to_numpy(dtype="float64")
    root = _evaluate(groups, {}, points, n, "")
    base = root.score
    coverage = sum(root.nominal[s] * had_data[s] for s, _ in members) if members else np.zeros(n)
    coverage = np.round(np.asarray(coverage, dtype="float64"), 10)

    flag_names = list(model.flags)
    raised = {f: rows[f"{FLAG_PREFIX}{f}"].fillna(False).to_numpy(dtype=bool) for f in flag_names}
    penalty = sum((model.flags[f].subtract * raised[f] for f in flag_names), np.zeros(n))
    gate = rows["gate_pass"].fillna(False).to_numpy(dtype=bool)
    final = np.where(gate, np.clip(base - penalty, 0.0, 100.0), 0.0)
    final = np.where(np.isnan(base) & gate, np.nan, final)

    bands = model.bands
    band_index = np.full(n, len(bands) - 1)
    for i in range(len(bands) - 1, -1, -1):
        band_index = np.where(np.nan_to_num(final, nan=-1) >= bands[i].min, i, band_index)
    for f in flag_names:
        cap = model.flags[f].cap_band
        if cap is not None:
            cap_index = model.band_names.index(cap)
            band_index = np.where(raised[f], np.maximum(band_index, cap_index), band_index)
    names = np.array(model.band_names, dtype=object)[band_index]
    # a failed gate is a verdict, not a lack of data: it keeps the worst band
    insufficient = ((coverage < model.min_coverage) | np.isnan(final)) & gate
    band = np.where(insufficient, model.insufficient_band, names)

    flags_json = _flags_json(flag_names, raised, n)
    scores = rows[["account_id", "as_of", *ACCOUNT_FIELDS, "scorecard", "model_segment"]].copy()
    scores["score"] = final
    scores["base_score"] = base
    scores["band"] = band
    scores["computed_band"] = band
    scores["coverage"] = coverage
    scores["gate_pass"] = gate
    scores["flags"] = flags_json

    def build_items() -> pd.DataFrame:
        names = [(sname, gpath) for sname, gpath in members]
        groups_list = list(root.groups.items())
        count = len(names) + len(groups_list)
        raw_values = [
            pd.to_numeric(rows[signal_column(s)], errors="coerce").to_numpy(dtype="float64")
            for s, _ in names
        ]
        item_columns: dict[str, Any] = {
            "account_id": np.tile(rows["account_id"].to_numpy(dtype=object), count),
            "as_of": np.tile(rows["as_of"].to_numpy(), count),
            "kind": np.repeat(
                np.array(["signal"] * len(names) + ["group"] * len(groups_list), dtype=object), n
            ),
            "name": np.repeat(
                np.array(
                    [s for s, _ in names] + [p.rsplit("/", 1)[-1] for p, _ in groups_list],
                    dtype=object,
                ),
                n,
            ),
            "path": np.repeat(
                np.array([p for _, p in names] + [p for p, _ in groups_list], dtype=object), n
            ),
            "raw_value": np.concatenate([*raw_values, np.full(n * len(groups_list), np.nan)]),
            "raw_text": np.concatenate(
                [
                    *[_as_text(rows[signal_column(s)]) for s, _ in names],
                    np.full(n * len(groups_list), None, dtype=object),
                ]
            ),
            "points": np.concatenate(
                [*[points[s] for s, _ in names], *[g for g, _ in (v for _, v in groups_list)]]
            ),
            "weight": np.concatenate(
                [*[root.rel[s] for s, _ in names], *[w for _, w in (v for _, v in groups_list)]]
            ),
        }
        item_columns["contribution"] = (
            np.nan_to_num(item_columns["points"]) * item_columns["weight"]
        )
        items = pd.DataFrame(item_columns)[ITEM_COLUMNS]
        return items

    return scores, build_items
