"""The health-model schema: what a model YAML file may say, as Pydantic models.

The meaning of every key is documented in docs/model.md; `tests/test_docs.py` fails when a
key is added here and not there.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vitalsign.model.canonical import CANONICAL_TABLES

AGGREGATIONS = (
    "count",
    "count_distinct",
    "sum",
    "mean",
    "min",
    "max",
    "percentile",
    "latest",
    "days_since_last",
    "time_to_first",
)
Aggregation = Literal[
    "count",
    "count_distinct",
    "sum",
    "mean",
    "min",
    "max",
    "percentile",
    "latest",
    "days_since_last",
    "time_to_first",
]
# Aggregations whose empty result is 0 (no rows is data), the rest give a missing value.
ZERO_WHEN_EMPTY = frozenset({"count", "count_distinct", "sum"})
NEEDS_COLUMN = frozenset({"count_distinct", "sum", "mean", "min", "max", "percentile", "latest"})

_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def parse_days(text: str | int) -> int:
    """Return the number of days in a duration such as "30d" or "4w"."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f'"{text}" is not a duration (e.g. "30d" or "4w")')
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThresholdStep(_Strict):
    """Points given from a value upward."""

    min: float
    points: Annotated[float, Field(ge=0, le=100)]


class ThresholdsScale(_Strict):
    """Step bands: the points of the highest step whose `min` the value reaches."""

    type: Literal["thresholds"]
    steps: list[ThresholdStep] = Field(min_length=1)
    below: Annotated[float, Field(ge=0, le=100)] = 0.0

    @field_validator("steps")
    @classmethod
    def _ascending(cls, steps: list[ThresholdStep]) -> list[ThresholdStep]:
        mins = [s.min for s in steps]
        if mins != sorted(mins) or len(set(mins)) != len(mins):
            raise ValueError("steps must be listed by strictly increasing `min`")
        return steps


class LinearScale(_Strict):
    """Linear between `low` (0 points) and `high` (100 points), clamped."""

    type: Literal["linear"]
    low: float
    high: float
    better: Literal["higher", "lower"] = "higher"

    @model_validator(mode="after")
    def _ordered(self) -> LinearScale:
        if self.high <= self.low:
            raise ValueError("`high` must be greater than `low` (use better: lower to reverse)")
        return self


class Knot(_Strict):
    """One breakpoint of a piecewise scale: the points a value earns exactly there."""

    value: float
    points: Annotated[float, Field(ge=0, le=100)]


class PiecewiseScale(_Strict):
    """Linear between consecutive knots, clamped to the end knots' points outside them."""

    type: Literal["piecewise"]
    knots: list[Knot] = Field(min_length=2)

    @field_validator("knots")
    @classmethod
    def _ascending(cls, knots: list[Knot]) -> list[Knot]:
        values = [k.value for k in knots]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError("knots must be listed by strictly increasing `value`")
        return knots


class PercentileScale(_Strict):
    """Percentile rank among the accounts of the same segment, times 100."""

    type: Literal["percentile"]
    better: Literal["higher", "lower"] = "higher"


class BooleanScale(_Strict):
    """Points for a true (non-zero) and a false value."""

    type: Literal["boolean"]
    if_true: Annotated[float, Field(ge=0, le=100)] = 100.0
    if_false: Annotated[float, Field(ge=0, le=100)] = 0.0


class CategoricalScale(_Strict):
    """A map from category to points, e.g. green: 100, yellow: 50, red: 0."""

    type: Literal["categorical"]
    map: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(min_length=1)
    default: Annotated[float, Field(ge=0, le=100)] | None = None


Scale = Annotated[
    ThresholdsScale
    | LinearScale
    | PiecewiseScale
    | PercentileScale
    | BooleanScale
    | CategoricalScale,
    Field(discriminator="type"),
]

Missing = Literal["skip", "zero"] | Annotated[float, Field(ge=0, le=100)]


class Signal(_Strict):
    """A per-account value as of date T; exactly one source kind is set."""

    description: str = ""
    # from a canonical table
    table: str | None = None
    aggregate: Aggregation | None = None
    column: str | None = None
    value: str | None = None
    filter: str | None = None
    window: str | int | None = None
    q: Annotated[float, Field(gt=0, lt=1)] | None = None
    # from the accounts table (an expression over its columns)
    attribute: str | None = None
    # from other signals
    ratio: tuple[str, str] | None = None
    change: str | None = None
    trend: str | None = None
    baseline: str | None = None
    windows: Annotated[int, Field(ge=2, le=52)] | None = None
    formula: str | None = None
    # how it becomes points
    scale: Scale | None = None
    missing: Missing = "skip"

    @property
    def kind(self) -> str:
        """Which source kind this signal uses."""
        for kind in ("table", "attribute", "ratio", "change", "trend", "baseline", "formula"):
            if getattr(self, kind) is not None:
                return kind
        return "none"

    @property
    def window_days(self) -> int | None:
        """The window length in days, if any."""
        return None if self.window is None else parse_days(self.window)

    @property
    def inputs(self) -> list[str]:
        """Names of the other signals this one is derived from."""
        if self.ratio is not None:
            return list(self.ratio)
        return [s for s in (self.change, self.trend, self.baseline) if s is not None]

    @field_validator("window")
    @classmethod
    def _window(cls, window: str | int | None) -> str | int | None:
        if window is not None:
            parse_days(window)
        return window

    @model_validator(mode="after")
    def _one_kind(self) -> Signal:
        kinds = [
            k
            for k in ("table", "attribute", "ratio", "change", "trend", "baseline", "formula")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a signal needs exactly one of table, attribute, ratio, change, trend, "
                f"baseline, formula; found {kinds or 'none'}"
            )
        if self.table is not None:
            if self.aggregate is None:
                raise ValueError("a table signal needs `aggregate` (e.g. count)")
            if self.aggregate in NEEDS_COLUMN and self.column is None and self.value is None:
                raise ValueError(f"aggregate {self.aggregate} needs `column` or `value`")
            if self.aggregate == "percentile" and self.q is None:
                raise ValueError("aggregate percentile needs `q`, e.g. q: 0.9")
            if self.window is None and self.aggregate != "time_to_first":
                raise ValueError(f'aggregate {self.aggregate} needs a `window`, e.g. "30d"')
            if self.aggregate == "time_to_first" and self.window is not None:
                raise ValueError("time_to_first reads all history before T; remove `window`")
            if self.q is not None and self.aggregate != "percentile":
                raise ValueError("`q` only applies to aggregate: percentile")
        else:
            stray = [
                k
                for k in ("aggregate", "filter", "column", "value", "window", "q")
                if getattr(self, k) is not None
            ]
            if stray:
                raise ValueError(f"{', '.join(stray)} only apply to table signals")
        if self.windows is not None and not (self.trend or self.baseline):
            raise ValueError("`windows` only applies to trend and baseline signals")
        if (self.trend or self.baseline) and self.windows is None:
            raise ValueError("trend and baseline need `windows` (how many windows to look back)")
        return self


class Group(_Strict):
    """A dimension holding signals and nested groups, each with a weight."""

    description: str = ""
    weight: Annotated[float, Field(gt=0)] = 1.0
    signals: dict[str, Annotated[float, Field(gt=0)] | None] = Field(default_factory=dict)
    groups: dict[str, Group] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_empty(self) -> Group:
        if not self.signals and not self.groups:
            raise ValueError("a group needs at least one signal or nested group")
        return self


class Segment(_Strict):
    """A rule that picks the scorecard of matching accounts; first match wins."""

    name: str
    when: str
    scorecard: str


class Gate(_Strict):
    """The key-metric gate: an account that fails `when` scores 0."""

    name: str = "key_metric"
    description: str = ""
    when: str


class Flag(_Strict):
    """A risk flag: a condition that subtracts points and/or caps the band."""

    description: str = ""
    when: str
    subtract: Annotated[float, Field(ge=0, le=100)] = 0.0
    cap_band: str | None = None


class Band(_Strict):
    """A named band reached from `min` points upward."""

    name: str
    min: Annotated[float, Field(ge=0, le=100)]


class Overrides(_Strict):
    """What people may override by hand (band, manual signals)."""

    band: bool = True
    signals: list[str] = Field(default_factory=list)


class Expansion(_Strict):
    """The second score kind: how likely an account is to grow (higher = more likely).

    The weighted mean of its signals' points (each signal's own scale), renormalised over the
    signals with data, 0–100; its `candidate_min` makes an account an expansion candidate.
    """

    description: str = ""
    signals: dict[str, Annotated[float, Field(gt=0)] | None] = Field(min_length=1)
    min_coverage: Annotated[float, Field(ge=0, le=1)] = 0.5
    candidate_min: Annotated[float, Field(ge=0, le=100)] = 60.0


NEVER_STALE = "never"
DEFAULT_FRESHNESS: dict[str, str] = {
    "events": "2d",
    "tickets": "14d",
    "invoices": "35d",
}
"""How stale each table may be unless the model says otherwise (docs/model.md, Freshness).

Product events stream in every day; a support desk opens tickets every working week; billing
issues invoices at least monthly. The other tables (accounts, users, subscriptions, surveys,
csm_ratings, business_events, outcomes) have sparse rows and never go stale by default.
"""


def _allowance(value: str | int | None) -> str | int | None:
    if value is None or value == NEVER_STALE:
        return NEVER_STALE
    parse_days(value)
    return value


class HealthModel(_Strict):
    """A complete health model."""

    name: str
    description: str = ""
    min_coverage: Annotated[float, Field(ge=0, le=1)] = 0.5
    insufficient_band: str = "insufficient_data"
    signals: dict[str, Signal] = Field(min_length=1)
    scorecards: dict[str, dict[str, Group]] = Field(min_length=1)
    segments: list[Segment] = Field(default_factory=list)
    default_scorecard: str = "default"
    gate: Gate | None = None
    flags: dict[str, Flag] = Field(default_factory=dict)
    bands: list[Band] = Field(min_length=2)
    overrides: Overrides = Field(default_factory=Overrides)
    freshness: dict[str, str | int | None] = Field(default_factory=dict)
    expansion: Expansion | None = None

    @field_validator("freshness")
    @classmethod
    def _freshness(cls, freshness: dict[str, str | int | None]) -> dict[str, str | int | None]:
        checked: dict[str, str | int | None] = {}
        for table, value in freshness.items():
            if table not in CANONICAL_TABLES:
                raise ValueError(
                    f"freshness.{table}: not a canonical table "
                    f"(one of {', '.join(CANONICAL_TABLES)})"
                )
            try:
                checked[table] = _allowance(value)
            except ValueError as exc:
                raise ValueError(f'freshness.{table}: {exc}, or "never"') from exc
        return checked

    def allowed_staleness(self, table: str) -> int | None:
        """Return how many days `table` may go without a new row, or None (never stale).

        >>> spec.allowed_staleness("events")  # doctest: +SKIP
        2
        """
        value = self.freshness.get(table, DEFAULT_FRESHNESS.get(table, NEVER_STALE))
        return None if value in (None, NEVER_STALE) else parse_days(value)

    @field_validator("bands")
    @classmethod
    def _bands_descend(cls, bands: list[Band]) -> list[Band]:
        mins = [b.min for b in bands]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("bands are listed best first, by strictly decreasing `min`")
        if mins[-1] != 0:
            raise ValueError("the last (worst) band must have min: 0")
        return bands

    @field_validator("signals")
    @classmethod
    def _signal_names(cls, signals: dict[str, Signal]) -> dict[str, Signal]:
        for name in signals:
            if not _NAME.match(name):
                raise ValueError(f"signal name {name!r} must be lower_snake_case")
        return signals

    @property
    def band_names(self) -> list[str]:
        """Band names, best first."""
        return [b.name for b in self.bands]
