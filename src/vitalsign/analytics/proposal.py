"""Write a proposed model: the original YAML with new weights, reversed scales and bands.

The file is edited in place of a copy (ruamel round-trip), so its comments, order and every
key calibration does not touch stay as they were; the result is validated with parse_model.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.model.spec import Band

FLAT_GROUP = "calibrated"
UNMATCHED = "default"  # the segment name of accounts no rule matches (percentile peers)
_PROPOSED = re.compile(r"-proposed-\d{4}-\d{2}-\d{2}$")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def source_text(model: LoadedModel) -> str:
    """The model's YAML text: its file, or a dump of its spec when it has none."""
    if model.path is not None and model.path.exists():
        return model.path.read_text(encoding="utf-8")
    out = io.StringIO()
    _yaml().dump(model.spec.model_dump(mode="json", exclude_defaults=True), out)
    return out.getvalue()


def proposed_name(name: str, day: dt.date) -> str:
    """The proposal's model name: `NAME-proposed-YYYY-MM-DD` (an earlier suffix replaced)."""
    return f"{_PROPOSED.sub('', name)}-proposed-{day.isoformat()}"


def _number(value: float) -> float | int:
    rounded = round(float(value), 1)
    return int(rounded) if rounded.is_integer() else rounded


def _reweigh(groups: CommentedMap, weights: Mapping[str, float]) -> float:
    """Set signal weights in `groups` (recursively) and group weights to their sums."""
    total = 0.0
    for name in list(groups):
        group = groups[name]
        subtotal = 0.0
        signals = group.get("signals")
        if signals is not None:
            for signal in list(signals):
                weight = round(float(weights.get(signal, 0.0)), 1)
                if weight > 0:
                    signals[signal] = _number(weight)
                    subtotal += weight
                else:
                    del signals[signal]
            if not signals:
                del group["signals"]
        nested = group.get("groups")
        if nested is not None:
            subtotal += _reweigh(nested, weights)
            if not nested:
                del group["groups"]
        if subtotal <= 0:
            del groups[name]
            continue
        if "weight" in group:
            group["weight"] = _number(subtotal)
        else:
            group.insert(1 if "description" in group else 0, "weight", _number(subtotal))
        total += subtotal
    return total


def _reverse_scale(signal: CommentedMap) -> None:
    """Turn points p into 100 − p: the signal now rewards the other side."""
    scale = signal["scale"]
    kind = scale["type"]
    if kind in ("linear", "percentile"):
        scale["better"] = "lower" if scale.get("better", "higher") == "higher" else "higher"
    elif kind == "boolean":
        true, false = scale.get("if_true", 100), scale.get("if_false", 0)
        scale["if_true"], scale["if_false"] = false, true
    elif kind == "thresholds":
        scale["below"] = _number(100 - float(scale.get("below", 0)))
        for step in scale["steps"]:
            step["points"] = _number(100 - float(step["points"]))
    elif kind == "piecewise":
        for knot in scale["knots"]:
            knot["points"] = _number(100 - float(knot["points"]))
    elif kind == "categorical":
        for key in list(scale["map"]):
            scale["map"][key] = _number(100 - float(scale["map"][key]))
        if scale.get("default") is not None:
            scale["default"] = _number(100 - float(scale["default"]))
    missing = signal.get("missing", "skip")
    if missing == "zero":
        signal["missing"] = 100
    elif missing != "skip":
        signal["missing"] = _number(100 - float(missing))


def propose_text(
    model: LoadedModel,
    weights: Mapping[str, Mapping[str, float]],
    reversed_signals: set[str],
    bands: list[Band] | None,
    flat: bool,
    header: str,
    name: str | None = None,
    routes: Sequence[tuple[str, str, str]] = (),
) -> str:
    """Return the proposed model's YAML: per-scorecard weights, reversed scales, new bands.

    `name` replaces the model's `name:` (a proposal's history must not mix with the original's).
    `routes` adds, per (new scorecard, copied scorecard, condition), a copy of a scorecard and a
    segment rule after the model's own (named `default`, see `segments.py`).
    """
    yaml = _yaml()
    document: Any = yaml.load(source_text(model))
    if name is not None:
        document["name"] = name
    if routes:
        rules = document.get("segments")
        if rules is None:
            document["segments"] = rules = CommentedSeq()
        for card, copied, when in routes:
            document["scorecards"][card] = copy.deepcopy(document["scorecards"][copied])
            rule = CommentedMap([("name", UNMATCHED), ("when", when), ("scorecard", card)])
            rule.fa.set_flow_style()
            rules.append(rule)
    for card, card_weights in weights.items():
        if flat:
            signals = CommentedMap(
                (s, _number(w)) for s, w in card_weights.items() if round(w, 1) > 0
            )
            signals.fa.set_flow_style()
            group = CommentedMap(
                [("description", "Weights fitted by vitalsign calibrate."), ("signals", signals)]
            )
            document["scorecards"][card] = CommentedMap([(FLAT_GROUP, group)])
        else:
            _reweigh(document["scorecards"][card], card_weights)
    for name in sorted(reversed_signals):
        _reverse_scale(document["signals"][name])
    if bands is not None:
        for entry, band in zip(document["bands"], bands, strict=True):
            entry["min"] = _number(band.min)
    out = io.StringIO()
    yaml.dump(document, out)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    text = comment + out.getvalue()
    parse_model(text, "<proposed model>")  # a proposal that does not load is a bug
    return text
