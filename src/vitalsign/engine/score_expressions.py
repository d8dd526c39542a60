"""Points, groups, coverage, gate, flags and band as Ibis expressions, run inside the engine.

The same rules as engine/scoring.py (pandas/NumPy on the driver), written over the signal
table so that the engine computes every account-date's score and the driver only reads
the results, a batch of dates at a time (engine/engine_scoring.py). The result is one
wide row per account-date: the score columns, each signal's points (`p__<i>`), each
scorecard member's effective weight (`w__<card>__<i>`) and each nested group's score and
weight (`gs__`, `gw__`), from which the driver spells out the items.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from vitalsign.engine.freshness import _reads
from vitalsign.engine.group_tree import nominal_weights
from vitalsign.engine.scale_expressions import (
    clip,
    double_literal,
    fenced,
    ranked_points,
    scale_points,
)
from vitalsign.engine.signals import ACCOUNT_FIELDS, FLAG_PREFIX, signal_column
from vitalsign.model.spec import (
    Group,
    HealthModel,
    PercentileScale,
)

SCORE_KEYS = ["account_id", "as_of", *ACCOUNT_FIELDS, "scorecard", "model_segment"]
SCORED = ["score", "base_score", "band", "computed_band", "coverage", "gate_pass", "flags"]


@dataclass
class Node:
    """A group of a scorecard: its path, signal members, nested groups, and column names."""

    path: str
    signals: list[tuple[str, float]]
    children: list[tuple[float, Node]] = field(default_factory=list)
    column: str = ""  # the group's score column; its stages' columns start with it


@dataclass
class CardLayout:
    """Where a scorecard's items are in the wide row, in the order the items list them."""

    members: list[tuple[str, str, str]]  # (signal, group path, effective weight column)
    groups: list[tuple[str, str, str]]  # (group path, score column, weight column)


@dataclass
class Layout:
    """The wide row's columns: points per signal, and each scorecard's items."""

    points: dict[str, str]  # signal -> points column
    cards: dict[str, CardLayout]


def signals_in(groups: Mapping[str, Group], path: str = "") -> list[tuple[str, str]]:
    """Return (signal, group path) of every member, as engine/scoring.py lists them."""
    found: list[tuple[str, str]] = []
    for gname, group in groups.items():
        here = f"{path}/{gname}" if path else gname
        found += [(s, here) for s in group.signals]
        found += signals_in(group.groups, here)
    return found


def _plan(groups: Mapping[str, Group], path: str, prefix: str, count: list[int]) -> list[Node]:
    nodes = []
    for gname, group in groups.items():
        here = f"{path}/{gname}" if path else gname
        node = Node(here, [(s, 1.0 if w is None else float(w)) for s, w in group.signals.items()])
        node.column = f"{prefix}{count[0]}"
        count[0] += 1
        node.children = [
            (g.weight, child)
            for g, child in zip(
                group.groups.values(), _plan(group.groups, here, prefix, count), strict=True
            )
        ]
        nodes.append(node)
    return nodes


def _depth_first(nodes: list[Node]) -> list[tuple[int, Node]]:
    found: list[tuple[int, Node]] = []
    for node in nodes:
        found += [(d + 1, n) for d, n in _depth_first([c for _, c in node.children])]
        found.append((0, node))
    return found


def _verdict(t: ir.Table, model: HealthModel, fence: bool) -> ir.Table:
    """Add the final score (gate and flags applied), the band and the flags' JSON."""
    raised = [t[f"{FLAG_PREFIX}{f}"] for f in model.flags]
    penalty: Any = double_literal(0.0)
    for flag, hit in zip(model.flags.values(), raised, strict=True):
        penalty = penalty + ibis.ifelse(hit, double_literal(flag.subtract), double_literal(0.0))
    final = clip(t.base_score - penalty, 0.0, 100.0)
    t = fenced(t.mutate(score=ibis.ifelse(t.gate_pass, final, double_literal(0.0))), fence)
    # a weighted mean can land a hair below a band's minimum (69.99999999999999 for 70)
    floor = t.score.fill_null(-1.0).round(9)
    bands = model.bands
    cap: Any = ibis.literal(0)
    for flag, hit in zip(model.flags.values(), raised, strict=True):
        if flag.cap_band is not None:
            level = model.band_names.index(flag.cap_band)
            cap = ibis.ifelse(hit & (cap < level), level, cap)
    reached = [(floor >= band.min, i) for i, band in enumerate(bands)]
    t = t.mutate(index__=ibis.cases(*reached, else_=len(bands) - 1), cap__=cap)
    t = fenced(t, fence)
    index = ibis.ifelse(t.index__ < t.cap__, t.cap__, t.index__)
    band = ibis.cases(*[(index == i, label) for i, label in enumerate(model.band_names)])
    # below the minimum coverage the band says so whatever the score, a failed gate's 0 too
    insufficient = (t.coverage < model.min_coverage) | t.score.isnull()
    band = ibis.ifelse(insufficient, model.insufficient_band, band)
    return t.mutate(band=band, computed_band=band, flags=_flags_text(model, raised)).drop(
        "index__", "cap__"
    )


def _flags_text(model: HealthModel, raised: list[Any]) -> Any:
    """The raised flags as the JSON list engine/scoring.py writes (json.dumps)."""
    text: Any = ibis.literal("[")
    earlier: Any = ibis.literal(False)
    for name, hit in zip(model.flags, raised, strict=True):
        piece = ibis.ifelse(earlier, ", ", "") + json.dumps(name)
        text = text + ibis.ifelse(hit, piece, "")
        earlier = earlier | hit
    return text + "]"


def scored_table(
    signals: ir.Table,
    model: HealthModel,
    stale: Mapping[Any, Collection[str]] | None = None,
    masked: bool = False,
    fence: bool = False,
) -> tuple[ir.Table, Layout]:
    """Return the signal table scored under `model` (one wide row per account-date).

    `stale` maps a date's midnight to the signals missing on it (engine/freshness.py): they
    are NULL, earn no points from their missing policy, and a gate or flag reading them is
    not evaluated (`masked`: the caller did that already, with `mask_stale`). Rows whose
    scorecard the model lacks are left out, as on the driver. `fence` keeps each stage a
    subquery (for PostgreSQL's planner, `_fenced`).
    """
    cards = list(model.scorecards)
    t = signals.filter(signals.scorecard.isin(cards))
    stale_sets = {day: set(names) for day, names in (stale or {}).items() if names}
    if stale_sets and not masked:
        t = mask_stale(t, model, stale_sets)
    else:
        t = t.mutate(
            gate_pass=t.gate_pass.fill_null(False),
            **{f"{FLAG_PREFIX}{f}": t[f"{FLAG_PREFIX}{f}"].fill_null(False) for f in model.flags},
        )
    used = list(dict.fromkeys(s for card in cards for s, _ in signals_in(model.scorecards[card])))
    layout = Layout(points={s: f"p__{i}" for i, s in enumerate(used)}, cards={})
    ranked = {
        signal_column(s): scale.better == "higher"
        for s in used
        if isinstance(scale := model.signals[s].scale, PercentileScale)
    }
    if ranked:
        t = ranked_points(t, ranked, ["as_of", "model_segment", "scorecard"], ["scorecard"])
    points: dict[str, Any] = {}
    for sname in used:
        signal = model.signals[sname]
        assert signal.scale is not None
        column = signal_column(sname)
        raw = (
            t[f"{column}__p"]
            if isinstance(signal.scale, PercentileScale)
            else scale_points(t, column, signal.scale)
        )
        if signal.missing != "skip":
            fill = 0.0 if signal.missing == "zero" else float(signal.missing)
            filled = raw.fill_null(double_literal(fill))
            skipped = [day for day, names in stale_sets.items() if sname in names]
            raw = ibis.ifelse(t.as_of.isin(skipped), raw, filled) if skipped else filled
        points[layout.points[sname]] = raw.cast("float64")
    t = t.mutate(**points)
    t = fenced(t.drop(*[c for c in t.columns if c.endswith("__p") and c.startswith("s__")]), fence)
    t = _score_cards(t, model, layout, fence)
    t = _verdict(t, model, fence)
    return (t.drop("fence__") if fence else t), layout


def mask_stale(t: ir.Table, model: HealthModel, stale: Mapping[Any, Collection[str]]) -> ir.Table:
    """NULL the stale signals on their dates; a gate or flag reading one is not evaluated."""
    sets = {day: set(names) for day, names in stale.items() if names}
    t = t.mutate(
        gate_pass=t.gate_pass.fill_null(False),
        **{f"{FLAG_PREFIX}{f}": t[f"{FLAG_PREFIX}{f}"].fill_null(False) for f in model.flags},
    )
    masked: dict[str, Any] = {}
    for sname in model.signals:
        days = [day for day, names in sets.items() if sname in names]
        if days:
            column = signal_column(sname)
            masked[column] = ibis.ifelse(t.as_of.isin(days), ibis.null(t[column].type()), t[column])
    gate_days = [d for d, names in sets.items() if model.gate and _reads(model.gate.when, names)]
    if gate_days:
        masked["gate_pass"] = t.gate_pass | t.as_of.isin(gate_days)
    for name, flag in model.flags.items():
        days = [d for d, names in sets.items() if _reads(flag.when, names)]
        if days:
            column = f"{FLAG_PREFIX}{name}"
            masked[column] = t[column] & ~t.as_of.isin(days)
    return t.mutate(**masked) if masked else t


class _Card:
    """A scorecard's tree of groups and the columns each stage of its scoring adds."""

    def __init__(self, model: HealthModel, card: str, number: int, layout: Layout) -> None:
        self.groups = model.scorecards[card]
        self.number = number
        self.layout = layout
        roots = _plan(self.groups, "", f"gs__{number}__", [0])
        weights = [g.weight for g in self.groups.values()]
        self.top = Node("", [], list(zip(weights, roots, strict=True)), f"b__{number}")
        self.nodes = [*_depth_first(roots), (-1, self.top)]
        self.members: list[tuple[str, str, str]] = []
        self.group_columns: list[tuple[str, str, str]] = []

    def _available(self, t: ir.Table, node: Node) -> Any:
        """Whether any signal below `node` has points (the group then has a score)."""
        found: Any = ibis.literal(False)
        for sname, _ in node.signals:
            found = found | t[self.layout.points[sname]].notnull()
        for _, child in node.children:
            found = found | self._available(t, child)
        return found

    def _parts(self, t: ir.Table, node: Node) -> list[tuple[Any, float, str]]:
        """(availability, weight, share column) of the node's parts, signals first."""
        found = [
            (t[self.layout.points[s]].notnull(), w, f"{node.column}__s{i}")
            for i, (s, w) in enumerate(node.signals)
        ]
        found += [
            (self._available(t, c), w, f"{node.column}__s{len(node.signals) + i}")
            for i, (w, c) in enumerate(node.children)
        ]
        return found

    def denominators(self, t: ir.Table) -> dict[str, Any]:
        """The weight of the available parts of each group."""
        return {
            f"{node.column}__d": sum(
                (
                    ibis.ifelse(avail, double_literal(w), double_literal(0.0))
                    for avail, w, _ in self._parts(t, node)
                ),
                start=double_literal(0.0),
            )
            for _, node in self.nodes
        }

    def shares(self, t: ir.Table) -> dict[str, Any]:
        """Each part's weight over its group's denominator where it has data, else 0."""
        return {
            share: ibis.ifelse(avail, w / t[f"{node.column}__d"], double_literal(0.0))
            for _, node in self.nodes
            for avail, w, share in self._parts(t, node)
        }

    def _terms(self, t: ir.Table, node: Node, above: Any) -> list[Any]:
        """Each signal below `node`: its points (0 if missing) times its share in `node`."""
        terms = []
        for i, (sname, _) in enumerate(node.signals):
            share = (
                t[f"{node.column}__s{i}"] if above is None else t[f"{node.column}__s{i}"] * above
            )
            terms.append(t[self.layout.points[sname]].fill_null(0.0) * share)
        for i, (_, child) in enumerate(node.children):
            share = t[f"{node.column}__s{len(node.signals) + i}"]
            terms += self._terms(t, child, share if above is None else share * above)
        return terms

    def scores(self, t: ir.Table) -> dict[str, Any]:
        """Group scores, items' effective weights (products of shares along the path) and
        coverage; a group without data has a NULL score."""
        found: dict[str, Any] = {}
        for _, node in self.nodes:
            total = sum(self._terms(t, node, None), start=double_literal(0.0))
            has_data = t[f"{node.column}__d"] > 0
            found[node.column] = ibis.ifelse(has_data, total, ibis.null("float64"))
        number = self.number

        def walk(node: Node, above: Any) -> None:
            count = len(node.signals) + len(node.children)
            shares = [t[f"{node.column}__s{i}"] for i in range(count)]
            for (sname, _), share in zip(node.signals, shares, strict=False):
                column = f"w__{number}__{len(self.members)}"
                self.members.append((sname, node.path, column))
                found[column] = share if above is None else share * above
            children = zip(node.children, shares[len(node.signals) :], strict=True)
            for (_, child), share in children:
                column = f"gw__{number}__{len(self.group_columns)}"
                self.group_columns.append((child.path, child.column, column))
                found[column] = share if above is None else share * above
                walk(child, found[column])

        walk(self.top, None)
        nominal = nominal_weights(self.groups, {})
        coverage: Any = double_literal(0.0)
        for sname, _, _ in self.members:
            points = t[self.layout.points[sname]]
            coverage = coverage + ibis.ifelse(
                points.isnull(), double_literal(0.0), double_literal(nominal[sname])
            )
        found[f"c__{number}"] = coverage
        return found

    def columns(self) -> list[str]:
        """The scratch columns the stages added (dropped once the score is known)."""
        found = []
        for _, node in self.nodes:
            found.append(f"{node.column}__d")
            count = len(node.signals) + len(node.children)
            found += [f"{node.column}__s{i}" for i in range(count)]
        return found


def _score_cards(t: ir.Table, model: HealthModel, layout: Layout, fence: bool) -> ir.Table:
    """Add every scorecard's group scores, item weights, base score and coverage.

    Three projections shared by all scorecards: denominators (the weight of a group's parts
    that have data), shares (a part's weight over its denominator where it has data, else
    0), then scores (each signal's points times the product of the shares along its path),
    the items' weights and coverage. Each refers to the stage before it a bounded number
    of times, so the query (and Ibis's compile) stays small.
    """
    cards = [_Card(model, card, i, layout) for i, card in enumerate(model.scorecards)]
    t = fenced(t.mutate(**{k: v for c in cards for k, v in c.denominators(t).items()}), fence)
    t = fenced(t.mutate(**{k: v for c in cards for k, v in c.shares(t).items()}), fence)
    t = fenced(t.mutate(**{k: v for c in cards for k, v in c.scores(t).items()}), fence)
    t = t.drop(*[column for card in cards for column in card.columns()])
    for name, card in zip(model.scorecards, cards, strict=True):
        layout.cards[name] = CardLayout(card.members, card.group_columns)
    names = list(model.scorecards)
    base = ibis.cases(*[(t.scorecard == c, t[f"b__{i}"]) for i, c in enumerate(names)])
    coverage = ibis.cases(*[(t.scorecard == c, t[f"c__{i}"]) for i, c in enumerate(names)])
    return fenced(t.mutate(base_score=base.cast("float64"), coverage=coverage.round(10)), fence)
