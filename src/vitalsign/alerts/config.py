"""The schema of a workspace's alerts.yml: channels, owners, digests, outbox, playbooks, rules.

docs/alerts.md documents every key; `tests/alerts/test_docs_alerts.py` fails when a key
is added here and not there.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from vitalsign.model.spec import parse_days

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
ChannelName = Literal["console", "email", "slack", "webhook"]
Frequency = Literal["daily", "weekly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
Sign = Literal["failed_payment", "overdue_invoice", "downgrade", "cancellation"]
SIGNS: tuple[Sign, ...] = ("failed_payment", "overdue_invoice", "downgrade", "cancellation")

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def parse_seconds(text: str | float) -> float:
    """Return the seconds in a duration such as "30s", "5m", "1h" or a plain number."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{text} is negative")
        return float(text)
    match = _SECONDS.match(str(text))
    if not match:
        raise ValueError(f'"{text}" is not a duration (e.g. "30s", "5m" or "1h")')
    return float(match.group(1)) * _UNIT[match.group(2)]


def cooldown_days(text: str | int) -> int:
    """Return the days of a cooldown: 0, "0d" or a duration such as "7d"."""
    if text == 0 or str(text).strip() in ("0", "0d", "0w"):
        return 0
    return parse_days(text)


def _checked_days(value: str | int) -> str | int:
    """Keep a duration as written ("30d", "2w" or 30) once `parse_days` accepts it."""
    parse_days(value)
    return value


Days = Annotated[str | int, AfterValidator(_checked_days)]
"""A number of days, as written in alerts.yml."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConsoleChannel(_Strict):
    """Print alerts to the terminal of `vitalsign run` (the default channel)."""

    width: Annotated[int, Field(ge=40, le=400)] = 100


class EmailChannel(_Strict):
    """Send e-mail over SMTP with smtplib."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str = Field(alias="from")
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: Annotated[float, Field(gt=0)] = 10.0

    @model_validator(mode="after")
    def _one_tls(self) -> EmailChannel:
        if self.ssl and self.starttls:
            raise ValueError("use either ssl (port 465) or starttls (port 587), not both")
        return self


class SlackChannel(_Strict):
    """Post Block Kit messages to a Slack incoming webhook."""

    webhook_url: str
    timeout: Annotated[float, Field(gt=0)] = 10.0


class WebhookChannel(_Strict):
    """POST JSON to a URL, signed with HMAC-SHA256."""

    url: str
    secret: str = Field(min_length=16)
    timeout: Annotated[float, Field(gt=0)] = 10.0


class Channels(_Strict):
    """The configured delivery channels; a channel left out is off."""

    console: ConsoleChannel | None = Field(default_factory=ConsoleChannel)
    email: EmailChannel | None = None
    slack: SlackChannel | None = None
    webhook: WebhookChannel | None = None

    @property
    def names(self) -> list[ChannelName]:
        """Names of the channels that are on."""
        on: list[ChannelName] = ["console", "email", "slack", "webhook"]
        return [name for name in on if getattr(self, name) is not None]


class Owner(_Strict):
    """How to reach an account owner and how they want alerts."""

    email: str | None = None
    slack: str | None = None
    digest: Frequency | None = None


class Digest(_Strict):
    """Digest mode: alerts of owners who chose it are batched daily or weekly."""

    default: Frequency | None = None
    weekday: Weekday = "monday"
    channels: list[ChannelName] | None = None


class OutboxPolicy(_Strict):
    """How failed deliveries are retried."""

    max_attempts: Annotated[int, Field(ge=1, le=1000)] = 20
    backoff: str | float = "30s"
    backoff_max: str | float = "1h"

    @field_validator("backoff", "backoff_max")
    @classmethod
    def _duration(cls, value: str | float) -> str | float:
        parse_seconds(value)
        return value

    @property
    def backoff_seconds(self) -> float:
        """The first retry delay in seconds."""
        return parse_seconds(self.backoff)

    @property
    def backoff_max_seconds(self) -> float:
        """The longest retry delay in seconds."""
        return parse_seconds(self.backoff_max)


class Playbook(_Strict):
    """A call to action: the task a rule opens."""

    title: str
    description: str = ""
    steps: list[str] = Field(default_factory=list)
    assignee: str = "owner"
    due: Days = "7d"

    @property
    def due_days(self) -> int:
        """Days from the snapshot date to the due date."""
        return parse_days(self.due)


class _Rule(_Strict):
    """Options every rule type has."""

    description: str = ""
    severity: Severity = "warning"
    cooldown: str | int = "7d"
    delivery: Literal["owner", "immediate", "digest", "none"] = "owner"
    channels: list[ChannelName] | None = None
    playbook: str | None = None
    segments: list[str] = Field(default_factory=list)
    min_arr: Annotated[float, Field(ge=0)] | None = None
    renewal_within: Days | None = None  # only accounts renewing within this (renewal.py)

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str | int) -> str | int:
        cooldown_days(value)
        return value

    @property
    def cooldown_days(self) -> int:
        """Days after an alert resolves during which the rule stays quiet for that account."""
        return cooldown_days(self.cooldown)


class Steady(_Strict):
    """Workspace-wide defaults of the band and threshold rules' `persistence` and `margin`."""

    persistence: Annotated[int, Field(ge=1, le=52)] | None = None
    margin: Annotated[float, Field(ge=0)] | None = None


class _Steady(_Rule):
    """Options of the band and threshold rules: hysteresis and persistence."""

    margin: Annotated[float, Field(ge=0)] | None = None
    persistence: Annotated[int, Field(ge=1, le=52)] | None = None


class BandEntered(_Steady):
    """The account's band became one of `bands`."""

    type: Literal["band_entered"]
    bands: list[str] = Field(min_length=1)
    computed: bool = False


class BandLeft(_Steady):
    """The account's band stopped being one of `bands`."""

    type: Literal["band_left"]
    bands: list[str] = Field(min_length=1)
    computed: bool = False


class ScoreBelow(_Steady):
    """The score is below `value`."""

    type: Literal["score_below"]
    value: Annotated[float, Field(gt=0, le=100)]


class ScoreDropped(_Steady):
    """The score fell by at least `points` from its highest value within `within` days.

    `smooth` > 1 compares the mean of each account's last `smooth` snapshots instead of
    single scores, so week-to-week noise cancels and a sustained decline remains.
    """

    type: Literal["score_dropped"]
    points: Annotated[float, Field(gt=0, le=100)]
    within: Days = "30d"
    smooth: Annotated[int, Field(ge=1, le=52)] = 1


class SignalThreshold(_Steady):
    """A signal's raw value is below or above a threshold."""

    type: Literal["signal_threshold"]
    signal: str
    below: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> SignalThreshold:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of `below` or `above`")
        return self


class SignalChange(_Rule):
    """A signal's raw value changed by a percentage against the previous window."""

    type: Literal["signal_change"]
    signal: str
    drop_pct: Annotated[float, Field(gt=0)] | None = None
    rise_pct: Annotated[float, Field(gt=0)] | None = None
    window: Days | None = None

    @model_validator(mode="after")
    def _a_direction(self) -> SignalChange:
        if self.drop_pct is None and self.rise_pct is None:
            raise ValueError("give `drop_pct`, `rise_pct` or both")
        return self


class FlagRaised(_Rule):
    """A risk flag of the model is raised (any flag when `flags` is empty)."""

    type: Literal["flag_raised"]
    flags: list[str] = Field(default_factory=list)


class GateFailed(_Rule):
    """The model's key-metric gate failed."""

    type: Literal["gate_failed"]


class ExpansionCandidate(_Rule):
    """The account's expansion score reached `min_score` (the model's candidate_min by default).

    An upsell candidate, an opportunity and not a warning: by default (`reminder: true`) one
    digest line per owner, not an alert per account. The model needs an `expansion:`
    section (docs/model.md).
    """

    type: Literal["expansion_candidate"]
    min_score: Annotated[float, Field(ge=0, le=100)] | None = None
    reminder: bool = True


class CommercialDisagreement(_Rule):
    """A healthy band while billing says otherwise (failed payment, downgrade, ...)."""

    type: Literal["commercial_disagreement"]
    bands: list[str] | None = None
    signs: list[Sign] = Field(default_factory=lambda: list(SIGNS), min_length=1)
    within: Days = "30d"


class DataStale(_Rule):
    """A source table sent nothing for the account for `days`."""

    type: Literal["data_stale"]
    table: str
    days: Days
    include_never: bool = True
    reminder: bool = False
    persistence: Annotated[int, Field(ge=1, le=52)] | None = None


class CsmRatingStale(_Rule):
    """The account's latest CSM rating is older than `days` (or there is none)."""

    type: Literal["csm_rating_stale"]
    days: Days
    include_never: bool = True
    reminder: bool = True


Rule = Annotated[
    BandEntered
    | BandLeft
    | ScoreBelow
    | ScoreDropped
    | SignalThreshold
    | SignalChange
    | FlagRaised
    | GateFailed
    | CommercialDisagreement
    | DataStale
    | CsmRatingStale
    | ExpansionCandidate,
    Field(discriminator="type"),
]
RULE_TYPES: tuple[type[_Rule], ...] = (
    BandEntered,
    BandLeft,
    ScoreBelow,
    ScoreDropped,
    SignalThreshold,
    SignalChange,
    FlagRaised,
    GateFailed,
    CommercialDisagreement,
    DataStale,
    CsmRatingStale,
    ExpansionCandidate,
)


class ReviewReminder(_Strict):
    """When the quarterly review is due, one reminder to `owners` (docs/backtest.md)."""

    every: Days = "90d"
    owners: list[str] = Field(default_factory=list)  # empty: the fallback_owner
    channels: list[ChannelName] | None = None  # default: every configured channel

    @property
    def every_days(self) -> int:
        """Days from one review to the next."""
        return parse_days(self.every)


class AlertConfig(_Strict):
    """The whole alerts.yml."""

    channels: Channels = Field(default_factory=Channels)
    owners: dict[str, Owner] = Field(default_factory=dict)
    roles: dict[str, str] = Field(default_factory=dict)
    fallback_owner: str | None = None
    digest: Digest = Field(default_factory=Digest)
    outbox: OutboxPolicy = Field(default_factory=OutboxPolicy)
    playbooks: dict[str, Playbook] = Field(default_factory=dict)
    baseline: bool = True
    steady: Steady = Field(default_factory=Steady)
    review: ReviewReminder | None = None
    rules: dict[str, Rule] = Field(default_factory=dict)  # none: reminders and digests only

    @field_validator("rules")
    @classmethod
    def _rule_names(cls, rules: dict[str, Rule]) -> dict[str, Rule]:
        for name in rules:
            if not _NAME.match(name):
                raise ValueError(f"rule name {name!r} must be lower_snake_case")
        return rules

    def owner(self, name: str | None) -> Owner:
        """Return how to reach `name` (an empty entry when it is not listed)."""
        return self.owners.get(name or "", Owner())

    def digest_frequency(self, owner: str | None) -> Frequency | None:
        """Return the owner's digest frequency, or None when they get alerts immediately."""
        chosen = self.owner(owner).digest
        return chosen if chosen is not None else self.digest.default
