"""Typed bodies of the REST API's answers, so /api/v1/openapi.json describes every response.

Dates and times travel as ISO text (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`), as the routes have
always sent them, so they are typed `str` here; a `Day` is cut to its date whatever the route
hands it (a date, a midnight datetime from a TIMESTAMP column, or its ISO text). Each model
allows extra keys: a field added to an answer reaches clients before its schema is written,
and never breaks the route.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def as_day(value: object) -> object:
    """A date as YYYY-MM-DD (a datetime or ISO date-time text keeps its date only)."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
        return dt.datetime.fromisoformat(value).date().isoformat()
    return value


Day = Annotated[str, BeforeValidator(as_day), Field(json_schema_extra={"format": "date"})]
"""YYYY-MM-DD."""
Moment = str  # ISO 8601 time, UTC


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Page(_Out):
    page: int = Field(description="1-based page number.")
    per_page: int
    total: int = Field(description="Items matching the filters, on every page.")
    pages: int


class MeOut(_Out):
    """Who is calling."""

    name: str
    role: str = Field(description="admin, manager, csm or viewer.")
    owner: str | None = Field(description="The owner a csm's book is limited to.")
    via: str = Field(description='"token" or "session".')


class AccountRow(_Out):
    """One account on a snapshot: score, band, change and renewal."""

    account_id: str
    name: str | None = None
    owner: str | None = None
    segment: str | None = None
    arr: float | None = None
    score: float | None = None
    band: str | None = None
    computed_band: str | None = Field(None, description="The band before an override.")
    coverage: float | None = None
    gate_pass: bool | None = None
    flags: list[str] = Field(default_factory=list)
    previous_score: float | None = None
    change: float | None = Field(None, description="Score change since the previous snapshot.")
    renewal_date: Day | None = None
    days_to_renewal: int | None = None
    recent_scores: list[float | None] = Field(
        default_factory=list, description="Scores of the last snapshots, oldest first."
    )


class AccountPage(_Page):
    """A page of accounts on one snapshot."""

    as_of: Day
    previous: Day | None
    items: list[AccountRow]


class ScoreRow(_Out):
    """A stored score row: the account on one snapshot under one model version."""

    snapshot_date: Day
    model_name: str
    model_hash: str
    account_id: str
    name: str | None = None
    owner: str | None = None
    segment: str | None = None
    arr: float | None = None
    scorecard: str | None = None
    model_segment: str | None = None
    score: float | None = None
    base_score: float | None = Field(None, description="Before the gate and flags.")
    band: str | None = None
    computed_band: str | None = None
    coverage: float | None = None
    gate_pass: bool | None = None
    flags: str | list[str] | None = Field(None, description="The raised flags (JSON text).")
    computed_at: Moment | None = None


class AccountOut(_Out):
    """An account's attributes, custom fields, attribute changes and latest score."""

    account_id: str
    attributes: dict[str, Any] | None = Field(description="The row of `accounts`.")
    custom_fields: dict[str, Any]
    deleted_at: Moment | None
    changes: list[dict[str, Any]] = Field(description="Changes of its attributes over time.")
    score: ScoreRow


class HistoryRow(_Out):
    """The account on one snapshot."""

    snapshot_date: Day
    score: float | None = None
    base_score: float | None = None
    band: str | None = None
    computed_band: str | None = None
    coverage: float | None = None
    gate_pass: bool | None = None
    flags: list[str] = Field(default_factory=list)
    model_name: str | None = None
    model_hash: str | None = None


class HistoryOut(_Out):
    """An account's scores over time."""

    account_id: str
    items: list[HistoryRow]


class OverrideRow(_Out):
    """An override of the band or a manual signal, with its state."""

    override_id: str
    account_id: str
    target: str
    value: str | float | None
    reason: str | None = None
    author: str | None = None
    created_at: Moment | None = None
    expires_at: Moment | None = None
    revoked_at: Moment | None = None
    state: str | None = Field(None, description="active, expired or revoked.")


class OverridesOut(_Out):
    """An account's overrides, newest first."""

    account_id: str
    items: list[OverrideRow]


class Rescored(_Out):
    """The latest snapshot's row re-scored at once by an override or its revocation."""

    snapshot_date: Day
    band: str | None
    computed_band: str | None
    score: float | None


class OverrideCreated(_Out):
    """A new override and the row it re-scored."""

    override_id: str
    account_id: str
    rescored: Rescored | None


class OverrideRevoked(_Out):
    """A revoked override and the row it re-scored."""

    override_id: str
    revoked: bool
    rescored: Rescored | None


class AuditEntry(_Out):
    """Who did what, when, to what."""

    logged_at: Moment
    actor: str | None
    action: str
    subject: str | None
    detail: dict[str, Any]


class AuditOut(_Out):
    """The audit trail of an account, its alerts and tasks, newest first."""

    account_id: str
    items: list[AuditEntry]


class BandShare(_Out):
    """Accounts and ARR in one band."""

    band: str
    accounts: int
    arr: float | None
    account_share: float | None
    arr_share: float | None


class GroupBand(_Out):
    """Accounts and ARR of one segment or owner in one band."""

    band: str
    accounts: int
    arr: float | None


class PortfolioOut(_Out):
    """Bands by count and ARR, ARR at risk, by segment and owner, movers."""

    model: str
    as_of: Day
    previous: Day | None
    headline: str
    accounts: int
    arr_at_risk: float
    bands: list[BandShare]
    by_segment: list[GroupBand] = Field(description="With `segment`.")
    by_owner: list[GroupBand] = Field(description="With `owner`.")
    movers: list[dict[str, Any]] = Field(description="Accounts whose band changed.")
    insufficient_data: list[dict[str, Any]]
    overrides: list[dict[str, Any]]


class TrendRow(_Out):
    """Accounts and ARR in one band on one snapshot."""

    snapshot_date: Day
    band: str
    accounts: int
    arr: float | None


class TrendOut(_Out):
    """Accounts and ARR per band on every snapshot date."""

    model: str
    items: list[TrendRow]


class ModelVersion(_Out):
    """A model version in the score history."""

    model_name: str
    model_hash: str
    first_snapshot: Day
    last_snapshot: Day
    snapshots: int


class BacktestStatus(_Out):
    """A backtest run by the web app: running, done or failed, with its summary."""

    state: str = Field(description="running, done or failed.")
    started_at: Moment
    horizon_days: int | None = None
    roc_auc: str | float | None = None
    pr_auc: str | float | None = None
    base_rate: float | None = None
    monotone: bool | None = None
    bands: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    error: str | None = None


class ModelOut(_Out):
    """The current model file, the model versions in the history, the latest backtest."""

    name: str
    hash: str
    path: str
    text: str = Field(description="The model file's YAML.")
    description: str
    signals: int
    bands: list[str]
    history: list[ModelVersion]
    backtest: BacktestStatus | None


class UserOut(_Out):
    """A web user."""

    name: str
    role: str
    owner: str | None
    created_at: Moment
    disabled_at: Moment | None
    last_login_at: Moment | None = None


class TokenOut(_Out):
    """An API token, without its secret."""

    token_id: str
    user_name: str
    label: str | None
    created_at: Moment
    revoked_at: Moment | None
    scope: Literal["read", "write"] = "write"
    expires_at: Moment | None = Field(None, description="When it stops working (exclusive).")
    valid_through: Day | None = Field(None, description="Its last working day (UTC), as given.")
    last_used_at: Moment | None = None


class UsersOut(_Out):
    """Every web user and every API token."""

    items: list[UserOut]
    tokens: list[TokenOut]


class UserRemoved(_Out):
    """A removed user."""

    name: str
    removed: bool


class TokenRevoked(_Out):
    """A revoked API token."""

    token_id: str
    user_name: str
    revoked: bool
