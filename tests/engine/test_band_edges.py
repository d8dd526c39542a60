"""A score that meets a band's minimum takes that band, whatever the float rounding."""

from __future__ import annotations

from vitalsign.engine.run import compute_scores
from vitalsign.model.loader import parse_model
from vitalsign.store.workspace import Workspace
from world import T

# (2 × 100 + 1 × 10) / 3 is 70 exactly, but the weighted mean gives 69.99999999999999
MODEL = """\
name: edges
min_coverage: 0.1
signals:
  full: {attribute: "1.0", scale: {type: linear, low: 0, high: 1}}
  tenth: {attribute: "0.1", scale: {type: linear, low: 0, high: 1}}
scorecards:
  default:
    heavy: {weight: 2, signals: {full: 1}}
    light: {weight: 1, signals: {tenth: 1}}
default_scorecard: default
bands:
  - {name: green, min: 70}
  - {name: yellow, min: 40}
  - {name: red, min: 0}
"""


def test_a_score_of_seventy_is_green_even_when_the_mean_falls_a_hair_short(
    tiny_workspace: Workspace,
) -> None:
    scores = compute_scores(tiny_workspace.backend, parse_model(MODEL), [T]).scores
    assert len(scores) > 0
    assert scores["score"].round(9).eq(70.0).all()
    assert set(scores["band"]) == {"green"}
