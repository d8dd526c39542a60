"""Invert a signal's scale: the value, in the signal's own units, that earns a number of points.

The forward direction is engine/points.py (value → points, vectorised); this is the way back
for one account, used by the "what it would take" solver (next_band.py): a linear scale is
solved for the value and rounded towards the target (whole numbers for counts), a thresholds
scale picks the nearest step band with enough points, a boolean or categorical scale the
value or category with the fewest points that is enough, a percentile scale a rank.

>>> s = SignalState("logins_30d", LinearScale(type="linear", low=0, high=10), 5, 50.0, 0.5, True)
>>> step_to(s, 70.0).text
'logins_30d ≥ 7 (now 5: 2 more)'
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from vitalsign.engine.conditions import shown
from vitalsign.model.spec import (
    BooleanScale,
    CategoricalScale,
    LinearScale,
    PercentileScale,
    PiecewiseScale,
    Scale,
    ThresholdsScale,
)

TOLERANCE = 1e-9


@dataclass(frozen=True)
class SignalState:
    """One available signal of one account: its scale, raw value, points and weight."""

    name: str
    scale: Scale
    raw: Any  # a number, a category, or None (points from the missing policy)
    points: float | None
    weight: float  # effective share of the score (0..1)
    whole: bool = False  # a count: targets are whole numbers
    ratio: tuple[str, float, float] | None = None  # numerator (whole), its value, denominator
    judgement: bool = False  # a person's own rating (csm_ratings, a manual signal): no target


@dataclass(frozen=True)
class Step:
    """One improvement: a signal reaching a value (or a flag clearing), and what it gains."""

    signal: str
    kind: str  # "signal" or "flag"
    text: str  # "logins_30d ≥ 7 (now 5: 2 more)"
    points_before: float
    points_after: float
    gain: float  # score points (weight × points gained, or the flag's subtract)
    target: str = ""  # "≥ 7", "= yellow", "≤ 2"
    effort: float = 1.0  # share of the signal's headroom used: the easiest first

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "signal": self.signal,
            "kind": self.kind,
            "text": self.text,
            "target": self.target,
            "points_before": round(self.points_before, 4),
            "points_after": round(self.points_after, 4),
            "gain": round(self.gain, 4),
        }


def best_points(scale: Scale) -> float:
    """Return the most points the scale gives."""
    if isinstance(scale, ThresholdsScale):
        return max([scale.below, *(s.points for s in scale.steps)])
    if isinstance(scale, BooleanScale):
        return max(scale.if_true, scale.if_false)
    if isinstance(scale, CategoricalScale):
        return max([*scale.map.values(), scale.default or 0.0])
    if isinstance(scale, PiecewiseScale):
        return max(k.points for k in scale.knots)
    return 100.0


def _number(raw: Any) -> float | None:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def linear_points(scale: LinearScale, value: float) -> float:
    """Return the points of one value on a linear scale (as engine/points.py does)."""
    share = min(max((value - scale.low) / (scale.high - scale.low), 0.0), 1.0)
    return 100.0 * (1.0 - share if scale.better == "lower" else share)


def _rounded(value: float, span: float, up: bool, whole: bool) -> tuple[float, str]:
    """Round towards the target: whole numbers for counts, else 3 significant digits of span.

    Returns the value and its text with every digit the rounding kept (a shorter text could
    name a value that earns fewer points).
    """
    exponent = 0 if whole else math.floor(math.log10(span)) - 2
    unit = 10.0**exponent
    scaled = value / unit
    steps = math.ceil(scaled - TOLERANCE) if up else math.floor(scaled + TOLERANCE)
    rounded = round(steps * unit, 10)
    decimals = max(0, -exponent)
    text = f"{rounded:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return rounded, text


def _step(s: SignalState, after: float, target: str, text: str) -> Step:
    assert s.points is not None
    headroom = best_points(s.scale) - s.points
    effort = (after - s.points) / headroom if headroom > 0 else 1.0
    gain = s.weight * (after - s.points)
    return Step(s.name, "signal", text, s.points, after, gain, target, effort)


def _more(s: SignalState, op: str, value: float, written: str | None = None) -> str:
    """Phrase a numeric target beside the current value: "x ≥ 7 (now 5: 2 more)"."""
    now = _number(s.raw)
    text = f"{s.name} {op} {written or shown(value)} (now {shown(now)}"
    if s.whole and now is not None and value != now:
        text += f": {shown(abs(value - now))} {'more' if value > now else 'fewer'}"
    return text + ")"


def step_to(s: SignalState, wanted: float) -> Step | None:
    """Return the smallest change of `s` that earns at least `wanted` points, None if none."""
    scale = s.scale
    if isinstance(scale, LinearScale):
        return _linear(s, scale, wanted)
    if isinstance(scale, ThresholdsScale):
        return _thresholds(s, scale, wanted)
    if isinstance(scale, PiecewiseScale):
        return _piecewise(s, scale, wanted)
    if isinstance(scale, BooleanScale):
        for truth, points in ((True, scale.if_true), (False, scale.if_false)):
            if points >= wanted - TOLERANCE and (s.points is None or points > s.points):
                target = "true (not 0)" if truth else "= 0"
                return _step(s, points, target, f"{s.name} {target} (now {shown(s.raw)})")
        return None
    if isinstance(scale, CategoricalScale):
        enough = [(p, c) for c, p in scale.map.items() if p >= wanted - TOLERANCE]
        if not enough:
            return None
        points = min(p for p, _ in enough)
        names = " or ".join(c for p, c in enough if p == points)
        return _step(s, points, f"= {names}", f"{s.name} = {names} (now {shown(s.raw)})")
    if isinstance(scale, PercentileScale):
        rank = math.ceil(wanted - TOLERANCE)
        top = 100 - rank
        now = f"now {s.points:.0f}" if s.points is not None else "now missing"
        text = f"{s.name} in the top {top}% of its segment (percentile ≥ {rank}, {now})"
        return _step(s, float(rank), f"percentile ≥ {rank}", text)
    return None  # pragma: no cover - pydantic guards the scale types


def _linear(s: SignalState, scale: LinearScale, wanted: float) -> Step:
    share = wanted / 100.0
    span = scale.high - scale.low
    up = scale.better == "higher"
    exact = scale.low + share * span if up else scale.high - share * span
    if s.ratio is not None and up:
        numerator, count, denominator = s.ratio
        if denominator > 0:
            needed = math.ceil(exact * denominator - TOLERANCE)
            value = needed / denominator
            after = linear_points(scale, value)
            more = needed - count
            text = (
                f"{shown(more)} more {numerator} ({shown(count)} → {shown(needed)}: "
                f"{s.name} ≥ {shown(value)}, now {shown(_number(s.raw))})"
            )
            return _step(s, after, f"≥ {shown(value)}", text)
    value, written = _rounded(exact, span, up, s.whole)
    op = "≥" if up else "≤"
    text = _more(s, op, value, written)
    return _step(s, linear_points(scale, value), f"{op} {written}", text)


def piecewise_points(scale: PiecewiseScale, value: float) -> float:
    """Return the points of one value on a piecewise scale (as engine/points.py does)."""
    knots = scale.knots
    if value <= knots[0].value:
        return knots[0].points
    for left, right in itertools.pairwise(knots):
        if value <= right.value:
            share = (value - left.value) / (right.value - left.value)
            return left.points + share * (right.points - left.points)
    return knots[-1].points


def _piecewise(s: SignalState, scale: PiecewiseScale, wanted: float) -> Step | None:
    """Return the value nearest the current one (or the first) that earns `wanted` points."""
    goal = wanted - TOLERANCE
    knots = scale.knots
    found = [k.value for k in knots if k.points >= goal]
    for left, right in itertools.pairwise(knots):
        if (left.points - goal) * (right.points - goal) < 0:  # crosses within the segment
            share = (wanted - left.points) / (right.points - left.points)
            found.append(left.value + share * (right.value - left.value))
    if not found:
        return None
    now = _number(s.raw)
    exact = min(found, key=lambda v: (0.0 if now is None else abs(v - now), v))
    up = now is None or exact > now
    span = knots[-1].value - knots[0].value
    value, written = _rounded(exact, span, up, s.whole)
    if piecewise_points(scale, value) < goal:  # rounding left the band that earns enough
        value, written = exact, shown(exact)
    op = "≥" if up else "≤"
    return _step(s, piecewise_points(scale, value), f"{op} {written}", _more(s, op, value, written))


def _thresholds(s: SignalState, scale: ThresholdsScale, wanted: float) -> Step | None:
    """Return the nearest step band (from the current value) with at least `wanted` points."""
    mins = [step.min for step in scale.steps]
    bands = [(-math.inf, mins[0], scale.below)]
    bands += [
        (low, high, step.points)
        for low, high, step in zip(mins, [*mins[1:], math.inf], scale.steps, strict=True)
    ]
    now = _number(s.raw)
    best: tuple[float, float, str, float] | None = None  # distance, points, op, value
    for low, high, points in bands:
        if points < wanted - TOLERANCE:
            continue
        if now is None or now < low:
            candidate = (0.0 if now is None else low - now, -points, "≥", low)
        elif now >= high:
            top = high - 1 if s.whole and float(high).is_integer() else high
            op = "≤" if top != high else "<"
            candidate = (now - top, -points, op, top)
        else:
            continue  # the value is in this band already
        if now is None and low == -math.inf:
            candidate = (0.0, -points, "<", high)
        if best is None or candidate[:2] < best[:2]:
            best = (candidate[0], candidate[1], candidate[2], candidate[3])
    if best is None:
        return None
    _, negative_points, op, value = best
    written = str(int(value)) if float(value).is_integer() else repr(float(value))
    return _step(s, -negative_points, f"{op} {written}", _more(s, op, value, written))
