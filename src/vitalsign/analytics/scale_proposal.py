"""Learned scales in calibrate: learn them on the training rows, relearn per fold, write them.

`learn_for_calibration` learns the scales on calibrate's training rows (never the test dates
nor the held-out accounts) and gives the history with those points, on which the weights are
then fitted. With one snapshot date, `relearning` makes every account fold learn its own
scales from its training accounts, so the fold figures stay out of sample. `with_learned_scales`
writes them into the proposed model (ruamel round trip: the file's comments stay), each with
a comment saying what it was learned from.
"""

from __future__ import annotations

import io
from dataclasses import replace

import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from vitalsign.analytics.history import History
from vitalsign.analytics.learned_scales import (
    LearnedScale,
    ScaleData,
    history_with_scales,
    relearner,
)
from vitalsign.analytics.protocol import CardRows
from vitalsign.model.loader import parse_model
from vitalsign.model.spec import CategoricalScale


def learn_for_calibration(
    history: History, labelled: pd.DataFrame, train: pd.Series
) -> tuple[History, dict[str, LearnedScale], ScaleData, list[str]]:
    """Learn the scales on the training rows: the re-pointed history, the scales, notes."""
    data = ScaleData.of(history)
    churned = labelled["churned"].to_numpy(dtype="float64")
    accounts = labelled["account_id"].astype(str).to_numpy(dtype=object)
    learned = data.learn(train.to_numpy(dtype=bool), churned, accounts)
    notes = [f"scale {note}" for note in data.notes]
    for scale in learned.values():
        if isinstance(scale.scale, CategoricalScale):
            shape = f"categorical map of {len(scale.scale.map)} categories"
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
