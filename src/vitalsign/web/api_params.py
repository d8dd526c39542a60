"""What the REST API takes and what its errors look like: query parameters, request bodies,
the error body, and the shape of a paged list. Shared by the API's route modules.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from vitalsign.web.access import HttpProblem
from vitalsign.web.accounts import MAX_PAGE

PageNumber = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"1-based page number (at most {MAX_PAGE:,}).")
]
PerPage = Annotated[int, Query(ge=1, le=500, description="Items per page (at most 500).")]
AsOf = Annotated[
    dt.date | None, Query(description="Snapshot date (YYYY-MM-DD); default the latest.")
]

AccountAlias = Annotated[
    str | None, Query(description="The same as account_id (the name the /alerts page uses).")
]


def one_account(account_id: str | None, account: str | None) -> str | None:
    """The account asked for by `account_id` or its alias `account`; both must agree."""
    if account_id and account and account_id != account:
        raise HttpProblem(
            400,
            "bad_request",
            f"account_id={account_id!r} and account={account!r} disagree: give one of them",
        )
    return account_id or account


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class OverrideIn(BaseModel):
    """A new override of the band or a manual signal."""

    target: str = Field(description='"band" or the name of an overridable signal.')
    value: str = Field(description="The band name, or the signal's value.")
    reason: str = Field(min_length=1, description="Why (kept in the audit trail).")
    expires_on: dt.date | None = Field(default=None, description="Stops applying on this date.")


class RevokeIn(BaseModel):
    """Why an override is revoked."""

    reason: str = Field(min_length=1)


class AcknowledgeIn(BaseModel):
    """An optional note with an acknowledgement."""

    note: str | None = None


class FeedbackIn(BaseModel):
    """Whether an alert was worth acting on."""

    useful: bool
    note: str | None = None


class TaskChange(BaseModel):
    """Changes to a task; status "closed" closes it with `outcome`."""

    status: Literal["open", "in_progress", "closed"] | None = None
    assignee: str | None = None
    due_date: dt.date | None = None
    note: str | None = None
    outcome: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "The request is wrong (the message says how)."),
        (401, "No valid token or session."),
        (403, "Not allowed for this user (role, or an account outside a csm's book)."),
        (404, "Unknown account, snapshot, alert, task or override."),
        (422, "A parameter or body field is invalid."),
    )
}


def page_count(total: int, per_page: int) -> int:
    """How many pages of `per_page` rows `total` rows take (at least one, for an empty list)."""
    return max(1, -(-total // per_page))


def page_body(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    """One page of a list: its items, where it is, and how many there are in all."""
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": page_count(total, per_page),
    }


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route takes, its dependencies' included."""
    names = {p.alias for p in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names


def refuse_unknown_query(request: Request) -> None:
    """Refuse a GET whose query names a parameter the route does not take (not ignore it)."""
    route = request.scope.get("route")
    if request.method not in ("GET", "HEAD") or not isinstance(route, APIRoute):
        return
    if route.path.endswith(".csv"):  # the pages' export links pass on the page's whole query
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if not unknown:
        return
    hints = [
        f"{name} (did you mean {close[0]}?)" if close else name
        for name in unknown
        for close in [difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)]
    ]
    takes = ", ".join(sorted(known)) or "no query parameters"
    raise HttpProblem(
        400,
        "bad_request",
        f"{route.path}: unknown query parameter {', '.join(hints)}; it takes {takes}",
    )
