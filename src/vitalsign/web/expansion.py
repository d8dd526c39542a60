"""Expansion candidates on the portfolio and account pages, and in the API.

When the model has an `expansion:` section (docs/model.md#expansion-the-second-score-kind) and
the snapshot shown holds expansion scores, the portfolio page lists the user's top expansion
candidates (expansion score from `candidate_min` up, with ARR and health band) and the account
page the account's expansion score and what makes it. A csm sees their own book only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from vitalsign.model.loader import LoadedModel
from vitalsign.store.expansion import (
    DEFAULT_CANDIDATES,
    Candidate,
    candidate,
    count_candidates,
    expansion_candidates,
    has_expansion,
)
from vitalsign.web.access import HttpProblem, Principal, require_account, scope_filter
from vitalsign.web.api_params import AsOf
from vitalsign.web.auth import CurrentPrincipal, Database, State
from vitalsign.web.serving_cache import ServingData

MAX_CANDIDATES = 200


def portfolio_expansion(
    connection: Any,
    model: LoadedModel,
    principal: Principal,
    as_of: dt.date,
    limit: int = DEFAULT_CANDIDATES,
) -> dict[str, Any] | None:
    """The portfolio's expansion candidates, or None when there is no expansion score."""
    expansion = model.spec.expansion
    if expansion is None or not has_expansion(connection, model.name, as_of):
        return None
    scope = scope_filter(principal, "e.account_id")
    minimum = expansion.candidate_min
    count, arr = count_candidates(connection, model.name, as_of, minimum, scope)
    return {
        "as_of": as_of,
        "candidate_min": minimum,
        "count": count,
        "arr": arr,
        "candidates": expansion_candidates(connection, model.name, as_of, minimum, limit, scope),
    }


def account_expansion(
    connection: Any,
    model: LoadedModel,
    account_id: str,
    as_of: dt.date,
    serving: ServingData | None = None,
) -> dict[str, Any] | None:
    """The account's expansion score and its signals on `as_of`, or None without one.

    On the latest snapshot of the in-memory `serving` data no table is read.
    """
    expansion = model.spec.expansion
    if expansion is None:
        return None
    if serving is not None and serving.latest == as_of and serving.model_name == model.name:
        if not serving.expansion:
            return None
        found = _cached_candidate(serving, account_id)
    elif not has_expansion(connection, model.name, as_of):
        return None
    else:
        found = expansion_candidates(connection, model.name, as_of, 0.0, 1, account_id=account_id)
    minimum = expansion.candidate_min
    return {
        "as_of": as_of,
        "candidate_min": minimum,
        "account": found[0] if found else None,
        "candidate": bool(found) and found[0].expansion_score >= minimum,
    }


def _cached_candidate(serving: ServingData, account_id: str) -> list[Candidate]:
    """The account's candidate from memory, as `expansion_candidates` reads it for one account."""
    found = serving.expansion.get(account_id)
    row = serving.latest_row(account_id)
    if found is None or found[0] is None or row is None:
        return []
    score, coverage, contributions = found
    return [
        candidate(
            account_id,
            row["name"],
            row["owner"],
            row["segment"],
            row["arr"],
            score,
            coverage,
            row["score"],
            row["band"],
            contributions,
        )
    ]


class ContributionOut(BaseModel):
    """One signal of an expansion score."""

    signal: str
    points: float | None = Field(description="0-100; null when the signal had no data.")
    weight: float = Field(description="Effective weight after renormalisation (sums to 1).")
    contribution: float = Field(description="points × weight; they add up to the score.")


class CandidateOut(BaseModel):
    """An account and its expansion score on a snapshot."""

    model_config = ConfigDict(extra="allow")
    account_id: str
    name: str | None
    owner: str | None
    segment: str | None
    arr: float | None
    expansion_score: float = Field(description="0-100; higher is more likely to grow.")
    coverage: float
    health_score: float | None
    band: str
    top_signals: list[str]
    contributions: list[ContributionOut]


class ExpansionOut(BaseModel):
    """The expansion candidates of the caller's accounts on a snapshot."""

    model_config = ConfigDict(extra="allow")
    model: str
    as_of: str
    candidate_min: float
    count: int = Field(description="Accounts from candidate_min up (all, not only listed).")
    arr: float = Field(description="Their summed ARR.")
    items: list[CandidateOut]


class AccountExpansionOut(BaseModel):
    """One account's expansion score on a snapshot."""

    model_config = ConfigDict(extra="allow")
    model: str
    as_of: str
    account_id: str
    candidate_min: float
    candidate: bool
    expansion: CandidateOut | None = Field(description="null when the account has no score.")


def _day(state: State, db: Any, as_of: dt.date | None) -> tuple[LoadedModel, dt.date]:
    loaded = state.model()
    if loaded.spec.expansion is None:
        raise HttpProblem(
            404,
            "no_expansion_score",
            f"model {loaded.name!r} has no `expansion:` section (docs/model.md#expansion-the-"
            "second-score-kind): add one and re-score to get expansion candidates",
        )
    day, _ = state.catalog.at(db).resolve(loaded.name, as_of)
    return loaded, day


def _candidate(found: Candidate) -> dict[str, Any]:
    return asdict(found)


def add_api_routes(router: APIRouter, errors: dict[int | str, dict[str, Any]]) -> None:
    """Add GET /expansion and GET /accounts/{id}/expansion to the API router."""

    @router.get("/expansion", responses=errors, response_model=ExpansionOut)
    def expansion(
        state: State,
        db: Database,
        principal: CurrentPrincipal,
        as_of: AsOf = None,
        limit: int = Query(DEFAULT_CANDIDATES, ge=1, le=MAX_CANDIDATES),
    ) -> dict[str, Any]:
        """The top expansion candidates of the caller's accounts (highest score, then ARR)."""
        loaded, day = _day(state, db, as_of)
        panel = portfolio_expansion(db, loaded, principal, day, limit)
        minimum = loaded.spec.expansion.candidate_min if loaded.spec.expansion else 0.0
        found = panel or {"count": 0, "arr": 0.0, "candidates": []}
        return {
            "model": loaded.name,
            "as_of": day.isoformat(),
            "candidate_min": minimum,
            "count": found["count"],
            "arr": found["arr"],
            "items": [_candidate(c) for c in found["candidates"]],
        }

    @router.get(
        "/accounts/{account_id}/expansion", responses=errors, response_model=AccountExpansionOut
    )
    def account_expansion_route(
        state: State, db: Database, principal: CurrentPrincipal, account_id: str, as_of: AsOf = None
    ) -> dict[str, Any]:
        """The account's expansion score, whether it is a candidate, and its signals."""
        require_account(db, principal, account_id)
        loaded, day = _day(state, db, as_of)
        panel = account_expansion(db, loaded, account_id, day)
        found = None if panel is None else panel["account"]
        return {
            "model": loaded.name,
            "as_of": day.isoformat(),
            "account_id": account_id,
            "candidate_min": loaded.spec.expansion.candidate_min if loaded.spec.expansion else 0.0,
            "candidate": bool(panel and panel["candidate"]),
            "expansion": None if found is None else _candidate(found),
        }
