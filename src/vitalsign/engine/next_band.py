"""What it would take to reach the next band: the smallest set of signal improvements.

An available signal with effective weight w and p points adds w × (p' − p) to the score
before gate and flags when it reaches p' points (weights do not move: it already has data).
The score needs `need` = the next band's minimum + the flags' penalty − that score. One
signal is enough when w × (its best points − p) ≥ need; its target is the smallest p' that
gives `need`, turned back into a value in the signal's own units by inverting its scale
(scales.py). When no single signal suffices, the fewest signals do: those with the largest
headroom, all but the last at their best. A failed gate must open first and a flag that caps
the band below the target must clear (conditions.py); clearing a flag that only subtracts is
one more alternative. Signals that are people's own judgement (the csm_ratings table, the
signals the model lets people override) are never targets: a CSM cannot act by changing
their own gut rating. They are listed apart ("csm_rating is red (a person's rating, not a
target): it counts for 0.0 points") and the solver looks among the rest.

>>> # see tests/engine/test_next_band.py for hand-computed cases
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vitalsign.engine.conditions import requirement, shown
from vitalsign.engine.scales import SignalState, Step, best_points, step_to
from vitalsign.model.spec import HealthModel

EPSILON = 1e-9  # a weighted mean can land a hair below a band's minimum
MAX_OPTIONS = 4  # alternatives shown, easiest first


@dataclass(frozen=True)
class NextBand:
    """What it would take for an account to reach the band above its own."""

    current: str
    band: str | None  # the target; None on the best band or with too little data
    needed: float  # score points missing once the gate is open and capping flags clear
    gate: str | None = None  # what opens the failed gate
    flags: list[str] = field(default_factory=list)  # capping flags that must clear, and how
    options: list[list[Step]] = field(default_factory=list)  # alternatives, easiest first
    reachable: bool = True
    note: str = ""
    judgements: list[str] = field(default_factory=list)  # people's ratings, listed apart

    def summary(self) -> str:
        """One sentence: "To reach green: open the gate (...), and 7 more ... or NPS ≥ 8"."""
        if self.band is None:
            return self.note
        musts = [f"open the gate: {self.gate}"] if self.gate else []
        musts += [f"clear {f}" for f in self.flags]
        choices = [
            " and ".join(
                f"({s.text})" if " or " in s.text and len(option) > 1 else s.text for s in option
            )
            for option in self.options
        ]
        parts = list(musts)
        if choices:
            parts.append("; or ".join(choices))
        if not self.reachable:
            parts.append(self.note)
        return f"To reach {self.band}: " + "; then ".join(parts) if parts else self.note

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "current": self.current,
            "band": self.band,
            "needed": round(self.needed, 4),
            "gate": self.gate,
            "flags": list(self.flags),
            "options": [[s.to_dict() for s in option] for option in self.options],
            "reachable": self.reachable,
            "note": self.note,
            "judgements": list(self.judgements),
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class ScoreState:
    """One account's score on one date, as the solver needs it."""

    base_score: float | None
    coverage: float
    computed_band: str
    gate_pass: bool
    flags: Sequence[str]
    signals: Sequence[SignalState]
    values: Mapping[str, Any]  # every name the gate and flags read


def is_judgement(model: HealthModel, name: str) -> bool:
    """Whether a signal is a person's own rating (csm_ratings, an overridable signal)."""
    signal = model.signals.get(name)
    return name in model.overrides.signals or (signal is not None and signal.table == "csm_ratings")


def judgement_line(s: SignalState) -> str:
    """Say what a person's rating counts for, as it is not a target."""
    counts = 0.0 if s.points is None else s.weight * s.points
    now = "missing" if s.raw is None else shown(s.raw)
    return f"{s.name} is {now} (a person's rating, not a target): it counts for {counts:.1f} points"


def solve(model: HealthModel, state: ScoreState) -> NextBand:
    """Return what it would take for the account in `state` to reach the next band up.

    People's own ratings are left out of the targets and listed apart (`judgements`).
    """
    judged = [s for s in state.signals if s.judgement]
    actionable = replace(state, signals=[s for s in state.signals if not s.judgement])
    result = _solve(model, actionable)
    if result.band is None:
        return result
    return replace(result, judgements=[judgement_line(s) for s in judged])


def _solve(model: HealthModel, state: ScoreState) -> NextBand:
    """Solve on the actionable signals of `state`."""
    names = model.band_names
    current = state.computed_band
    if current not in names or state.base_score is None:
        missing = sorted(s.name for s in state.signals if s.points is None)
        note = (
            f"coverage {state.coverage:.0%} is below the model's minimum "
            f"{model.min_coverage:.0%}: the band needs data for "
            + (", ".join(missing) or "more signals")
        )
        return NextBand(current, None, 0.0, note=note)
    index = names.index(current)
    if index == 0:
        return NextBand(current, None, 0.0, note=f"{current} is the best band")
    target = model.bands[index - 1]
    gate = None
    if not state.gate_pass and model.gate is not None:
        gate = requirement(model.gate.when, state.values, want=True)
    must_clear: list[str] = []
    penalty = 0.0
    optional: list[Step] = []
    for name in state.flags:
        flag = model.flags.get(name)
        if flag is None:
            continue
        caps = flag.cap_band is not None and names.index(flag.cap_band) > index - 1
        how = requirement(flag.when, state.values, want=False)
        if caps:
            must_clear.append(f"flag {name}: {how}")
        else:
            penalty += flag.subtract
            if flag.subtract > 0:
                text = f"clear flag {name} (−{flag.subtract:g} points): {how}"
                optional.append(Step(name, "flag", text, 0.0, 0.0, flag.subtract, "clear"))
    base = state.base_score
    need = target.min + penalty - base
    if need <= EPSILON:
        return NextBand(current, target.name, 0.0, gate, must_clear)
    flag_steps = [replace(f, effort=min(need / f.gain, 1.0)) for f in optional]
    options = _single(state.signals, need) + [[f] for f in flag_steps if f.gain >= need - EPSILON]
    options.sort(key=lambda option: option[0].effort)
    if options:
        return NextBand(current, target.name, need, gate, must_clear, options[:MAX_OPTIONS])
    combined = _combination(state.signals, flag_steps, need)
    if combined is None:
        ceiling = sum(_headroom(s) for s in state.signals)
        note = (
            f"even with every signal at its best the score would gain {ceiling:.1f} of the "
            f"{need:.1f} points needed"
        )
        return NextBand(current, target.name, need, gate, must_clear, [], False, note)
    return NextBand(current, target.name, need, gate, must_clear, [combined])


def _headroom(s: SignalState) -> float:
    """Return the score points the signal could still add (0 when it has no points)."""
    if s.points is None or s.weight <= 0:
        return 0.0
    return s.weight * (best_points(s.scale) - s.points)


def _single(signals: Sequence[SignalState], need: float) -> list[list[Step]]:
    """Return the one-signal options: each signal that alone closes the gap."""
    options = []
    for s in signals:
        if s.points is None or s.weight <= 0:
            continue
        wanted = s.points + need / s.weight
        if wanted > best_points(s.scale) + EPSILON:
            continue
        step = step_to(s, min(wanted, 100.0))
        if step is not None:
            options.append([step])
    return options


def _combination(
    signals: Sequence[SignalState], flags: Sequence[Step], need: float
) -> list[Step] | None:
    """Return the fewest improvements that close the gap together, or None if none can."""
    candidates: list[tuple[float, SignalState | Step]] = [(_headroom(s), s) for s in signals]
    candidates += [(f.gain, f) for f in flags]
    candidates = [c for c in candidates if c[0] > EPSILON]
    candidates.sort(key=lambda c: -c[0])
    chosen: list[tuple[float, SignalState | Step]] = []
    total = 0.0
    for gain, item in candidates:
        chosen.append((gain, item))
        total += gain
        if total >= need - EPSILON:
            break
    else:
        return None
    steps: list[Step] = []
    left = need
    for position, (_, item) in enumerate(chosen):
        if left <= EPSILON:
            break
        last = position == len(chosen) - 1
        if isinstance(item, Step):
            steps.append(item)
            left -= item.gain
            continue
        assert item.points is not None  # a candidate has headroom, so points
        wanted = best_points(item.scale) if not last else item.points + left / item.weight
        step = step_to(item, min(wanted, best_points(item.scale)))
        if step is None:
            return None
        steps.append(step)
        left -= step.gain
    return steps
