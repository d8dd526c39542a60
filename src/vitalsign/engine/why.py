"""Why an account has its score, in the right direction: what each signal and group loses.

The one builder behind `vitalsign explain`, the API's explain route and the account page.
From an `Explanation` (explain.py) and the model it adds:
- each signal's and group's **loss**, effective weight × (100 − points), largest first,
  beside its contribution (loss + contribution = 100 × weight, so the signals' losses add up
  to 100 − the score before gate and flags);
- effective weights shown as a tree: top-level groups add up to 100 %, and each child's
  share is within its parent (children also add up to 100 % of their parent);
- the gate condition that failed and the flags that fired, with the values they read;
- what it would take to reach the next band (next_band.py).

The values a gate or flag reads that are not scored signals (invoices_90d, days_to_renewal)
are computed for the one account on the date by `condition_values`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vitalsign.engine.condition_values import (
    condition_values,
    not_evaluated,
    silent_inputs,
)
from vitalsign.engine.conditions import condition_names, requirement
from vitalsign.engine.explain import Explanation, ItemLine, explain_account
from vitalsign.engine.flag_expiry import clears_after
from vitalsign.engine.next_band import NextBand, ScoreState, is_judgement, solve
from vitalsign.engine.scales import SignalState
from vitalsign.engine.units import signal_unit, with_unit
from vitalsign.model.loader import LoadedModel
from vitalsign.model.spec import HealthModel

WHOLE = frozenset({"count", "count_distinct"})  # aggregates whose values are whole numbers


@dataclass(frozen=True)
class Loss:
    """One signal or group: what it contributes and what it loses."""

    kind: str  # "signal" or "group"
    name: str
    path: str  # the group path (a signal's group, a group's own path)
    parent: str  # the parent group's path, "" at the top
    depth: int  # 0 for a top-level group, 1 below it, ...
    raw: str | None
    points: float | None
    weight: float  # effective share of the whole score (0..1)
    share: float  # share within its parent (0..1); top-level groups add up to 1
    contribution: float
    loss: float  # weight × (100 − points); 0 when the item has no points

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ConditionResult:
    """The gate or one flag: its condition, the values it read, and how it changes."""

    kind: str  # "gate" or "flag"
    name: str
    when: str
    description: str
    holds: bool  # the gate passed / the flag fired
    values: dict[str, Any]
    fix: str | None  # what opens a failed gate or clears a raised flag
    subtract: float = 0.0
    cap_band: str | None = None
    missing: str | None = None  # the gate was not evaluated: "invoices_90d is missing (no data)"
    clears: str | None = None  # a flag on a windowed count: when it clears by itself

    @property
    def evaluated(self) -> bool:
        """Whether the condition was evaluated (its inputs were not missing on the date)."""
        return self.missing is None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {**self.__dict__, "evaluated": self.evaluated}


@dataclass(frozen=True)
class Why:
    """An account's explanation with its losses, conditions and next band."""

    explanation: Explanation
    losses: list[Loss]  # signals, largest loss first
    groups: list[Loss]  # groups as a tree: each parent by loss, its children after it
    gate: ConditionResult | None
    flags: list[ConditionResult]  # the flags that fired
    next_band: NextBand
    notes: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # signal → "days", "share", "count"

    def show(self, name: str, value: Any) -> str:
        """Show a signal's raw value in its unit, rounded: "0.1 days", "34%"."""
        return with_unit(value, self.units.get(name))

    def to_dict(self) -> dict[str, Any]:
        """Return the explanation's dict with the losses, conditions and next band added."""
        return {
            **self.explanation.to_dict(),
            "losses": [line.to_dict() for line in self.losses],
            "group_tree": [line.to_dict() for line in self.groups],
            "gate_condition": None if self.gate is None else self.gate.to_dict(),
            "flags_fired": [f.to_dict() for f in self.flags],
            "next_band": self.next_band.to_dict(),
            "notes": list(self.notes),
            "units": dict(self.units),
        }


def _number(text: str | None) -> Any:
    """Return a stored raw value as a number when it is one, else as text (None stays)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _loss(line: ItemLine) -> float:
    return 0.0 if line.points is None else line.weight * (100.0 - line.points)


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _share(weight: float, parent_weight: float) -> float:
    return weight / parent_weight if parent_weight > 0 else 0.0


def _group_tree(explanation: Explanation) -> tuple[list[Loss], dict[str, float]]:
    """Return the groups in tree order (each level by loss) and each group path's weight."""
    weights = {g.path: g.weight for g in explanation.groups}
    lines = {
        g.path: Loss(
            "group",
            g.name,
            g.path,
            _parent(g.path),
            g.path.count("/"),
            None,
            g.points,
            g.weight,
            _share(g.weight, weights.get(_parent(g.path), 1.0)),
            g.contribution,
            _loss(g),
        )
        for g in explanation.groups
    }
    ordered: list[Loss] = []

    def visit(parent: str) -> None:
        children = [line for line in lines.values() if line.parent == parent]
        for child in sorted(children, key=lambda c: (-c.loss, c.path)):
            ordered.append(child)
            visit(child.path)

    visit("")
    return ordered, weights


def needed_names(model: HealthModel, explanation: Explanation) -> set[str]:
    """Return the names the gate, the flags and the ratio targets read that are not scored."""
    names: set[str] = set()
    if model.gate is not None:
        names |= condition_names(model.gate.when)
    for flag in model.flags.values():
        names |= condition_names(flag.when)
    for line in explanation.signals:
        signal = model.signals.get(line.name)
        if signal is not None and signal.ratio is not None:
            names |= set(signal.ratio)
    scored = {s.name for s in explanation.signals}
    return {n for n in names if n not in scored}


def build_why(
    explanation: Explanation,
    model: HealthModel,
    extra_values: Mapping[str, Any] | None = None,
    model_hash: str | None = None,
    silent: Mapping[str, str] | None = None,
    clears: Mapping[str, str | None] | None = None,
) -> Why:
    """Build the losses, conditions and next band of an explanation under `model`.

    `extra_values` holds what the gate, flags and ratio targets read beyond the scored
    signals (`condition_values`); without them those values show as missing. `silent` holds
    the gate's inputs missing on the date (`silent_inputs`): the gate was not evaluated;
    `clears` when each fired flag clears by itself (`flag_clearing`).
    """
    groups, weights = _group_tree(explanation)
    losses = [
        Loss(
            "signal",
            s.name,
            s.path,
            s.path,
            s.path.count("/") + 1,
            s.raw,
            s.points,
            s.weight,
            _share(s.weight, weights.get(s.path, 1.0)),
            s.contribution,
            _loss(s),
        )
        for s in explanation.signals
    ]
    losses.sort(key=lambda line: (-line.loss, line.contribution, line.name))
    values: dict[str, Any] = {s.name: _number(s.value) for s in explanation.signals}
    values.update(extra_values or {})
    gate = None
    if model.gate is not None:
        missing = not_evaluated(model.gate.when, silent or {}) if explanation.gate_pass else None
        gate_values = {
            n: None if missing and n in (silent or {}) else values.get(n)
            for n in sorted(condition_names(model.gate.when))
        }
        fix = None if explanation.gate_pass else requirement(model.gate.when, values, want=True)
        gate = ConditionResult(
            "gate",
            model.gate.name,
            model.gate.when,
            model.gate.description,
            explanation.gate_pass,
            gate_values,
            fix,
            missing=missing,
        )
    flags = []
    for name in explanation.flags:
        flag = model.flags.get(name)
        if flag is None:
            continue
        flags.append(
            ConditionResult(
                "flag",
                name,
                flag.when,
                flag.description,
                True,
                {n: values.get(n) for n in sorted(condition_names(flag.when))},
                requirement(flag.when, values, want=False),
                flag.subtract,
                flag.cap_band,
                clears=(clears or {}).get(name),
            )
        )
    notes = []
    if model_hash is not None and model_hash != explanation.model_hash:
        notes.append(
            f"the snapshot was scored by model {explanation.model_hash}; targets use the "
            f"current model {model_hash}"
        )
    if explanation.band != explanation.computed_band:
        notes.append(
            f"the band is overridden to {explanation.band}; the next band is worked out from "
            f"the computed band {explanation.computed_band}"
        )
    state = ScoreState(
        base_score=explanation.base_score,
        coverage=explanation.coverage,
        computed_band=explanation.computed_band,
        gate_pass=explanation.gate_pass,
        flags=explanation.flags,
        signals=[_state(model, s, values) for s in explanation.signals if _scored(model, s.name)],
        values=values,
    )
    units = {n: u for n in model.signals if (u := signal_unit(model, n)) is not None}
    return Why(explanation, losses, groups, gate, flags, solve(model, state), notes, units)


def _scored(model: HealthModel, name: str) -> bool:
    """Whether the model still scores the signal (a snapshot of an older version may not)."""
    signal = model.signals.get(name)
    return signal is not None and signal.scale is not None


def _state(model: HealthModel, line: ItemLine, values: Mapping[str, Any]) -> SignalState:
    """Return what the solver needs of one scored signal."""
    signal = model.signals[line.name]
    assert signal.scale is not None  # `_scored` kept it
    ratio = None
    if signal.ratio is not None:
        numerator, denominator = signal.ratio
        top, bottom = values.get(numerator), values.get(denominator)
        top_signal = model.signals.get(numerator)
        if (
            isinstance(top, int | float)
            and isinstance(bottom, int | float)
            and top_signal is not None
            and top_signal.aggregate in WHOLE
        ):
            ratio = (numerator, float(top), float(bottom))
    return SignalState(
        name=line.name,
        scale=signal.scale,
        raw=_number(line.value),
        points=line.points,
        weight=line.weight,
        whole=signal.aggregate in WHOLE,
        ratio=ratio,
        judgement=is_judgement(model, line.name),
    )


def why_account(
    connection: Any,
    model: LoadedModel,
    account_id: str,
    as_of: dt.date | None = None,
    since: dt.date | None = None,
) -> Why:
    """Explain `account_id` on `as_of` (default: the latest snapshot) with losses and next band.

    >>> why_account(ws.duckdb, ws.load_model(), "acct-42").next_band.summary()  # doctest: +SKIP
    'To reach yellow: 7 more active_users_30d (4 → 11: seat_utilisation ≥ 0.85, now 0.31)'
    """
    explanation = explain_account(connection, model.name, account_id, as_of, since)
    names = needed_names(model.spec, explanation)
    extra = condition_values(connection, model.spec, explanation.as_of, account_id, names)
    silent = silent_inputs(connection, explanation.model_name, model.spec, explanation.as_of)
    clears = flag_clearing(connection, model.spec, explanation)
    return build_why(explanation, model.spec, extra, model.hash, silent, clears)


def flag_clearing(
    connection: Any, model: HealthModel, explanation: Explanation
) -> dict[str, str | None]:
    """Return, per fired flag, when it clears by itself (None when that cannot be told)."""
    return {
        name: clears_after(connection, model, name, explanation.account_id, explanation.as_of)
        for name in explanation.flags
    }
