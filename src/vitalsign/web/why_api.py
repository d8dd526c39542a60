"""The typed body of the account explain route (GET /api/v1/accounts/{id}/explain).

The route answers `vitalsign.engine.why.why_account(...).to_dict()`, the same builder as
`vitalsign explain --json` and the account page; these models describe it in the OpenAPI
document and check it on the way out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class ItemBody(BaseModel):
    """A signal or group as stored: raw value, points, effective weight, contribution."""

    kind: str
    name: str
    path: str
    raw: str | None
    points: float | None
    weight: float
    contribution: float
    value: str | None = None


class ChangeBody(BaseModel):
    """How one signal's contribution moved since the `since` snapshot."""

    name: str
    path: str
    raw_before: str | None
    raw_after: str | None
    contribution_before: float
    contribution_after: float
    delta: float


class LossBody(BaseModel):
    """A signal or group: what it contributes and what it loses (weight × (100 − points))."""

    kind: str
    name: str
    path: str
    parent: str
    depth: int
    raw: str | None
    points: float | None
    weight: float
    share: float
    contribution: float
    loss: float


class ConditionBody(BaseModel):
    """The gate or a fired flag, with the values it read and what changes it."""

    kind: str
    name: str
    when: str
    description: str
    holds: bool
    values: dict[str, Any]
    fix: str | None
    subtract: float
    cap_band: str | None
    missing: str | None = Field(
        default=None, description="The gate was not evaluated: which inputs are missing, why."
    )
    evaluated: bool = Field(default=True, description="False when its inputs were missing.")
    clears: str | None = Field(
        default=None, description="A flag on a windowed count: when it clears by itself."
    )


class StepBody(BaseModel):
    """One improvement: a signal reaching a value in its own units, or a flag clearing."""

    signal: str
    kind: str
    text: str
    target: str
    points_before: float
    points_after: float
    gain: float


class NextBandBody(BaseModel):
    """What it would take to reach the band above: the gate, capping flags, alternatives."""

    current: str
    band: str | None
    needed: float
    gate: str | None
    flags: list[str]
    options: list[list[StepBody]]
    reachable: bool
    note: str
    judgements: list[str] = Field(
        default_factory=list, description="People's own ratings: listed apart, never targets."
    )
    summary: str


class ExplainBody(BaseModel):
    """An account's score on a date, why (losses first), and what it would take."""

    account_id: str
    name: str | None
    model_name: str
    model_hash: str
    as_of: dt.date
    score: float | None
    base_score: float | None
    band: str
    computed_band: str
    coverage: float
    gate_pass: bool
    flags: list[str]
    groups: list[ItemBody]
    signals: list[ItemBody]
    since: dt.date | None
    score_before: float | None
    band_before: str | None
    flags_before: list[str]
    gate_before: bool | None
    changes: list[ChangeBody]
    losses: list[LossBody]
    group_tree: list[LossBody]
    gate_condition: ConditionBody | None
    flags_fired: list[ConditionBody]
    next_band: NextBandBody
    notes: list[str]
    units: dict[str, str] = Field(
        default_factory=dict, description='Each signal\'s unit: "days", "share" or "count".'
    )
