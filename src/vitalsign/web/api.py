"""The REST API under /api/v1: JSON, paging, filtering, one error body (docs/api.md).

Every route needs a bearer token (or a session cookie; changes through a session also need
the X-CSRF-Token header). A csm gets only their own accounts, here as on the pages:
tests/web/test_api_access.py walks this router's route table to prove it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from vitalsign.engine.why import why_account
from vitalsign.model.canonical import ACCOUNTS, DELETED_AT
from vitalsign.web import api_inbox, expansion, exports, renewals, timeline, users_api
from vitalsign.web.access import Principal, book_key, require_account, require_backtester
from vitalsign.web.account_view import (
    account_attributes,
    account_audit,
    account_overrides,
)
from vitalsign.web.accounts import (
    HISTORY_COLUMNS,
    SORTS,
    AccountQuery,
    account_history,
    history_records,
    list_accounts,
    plain,
    score_row,
)
from vitalsign.web.api_params import (
    ERRORS,
    AsOf,
    OverrideIn,
    PageNumber,
    PerPage,
    RevokeIn,
    page_body,
    refuse_unknown_query,
)
from vitalsign.web.api_schemas import (
    AccountOut,
    AccountPage,
    AuditOut,
    BacktestStatus,
    HistoryOut,
    MeOut,
    ModelOut,
    OverrideCreated,
    OverrideRevoked,
    OverridesOut,
    PortfolioOut,
    ScoreRow,
    TrendOut,
)
from vitalsign.web.auth import CurrentPrincipal, Database, State, check_api_csrf
from vitalsign.web.model_info import model_summary, start_backtest
from vitalsign.web.overrides import create_override, end_override, rescored_body
from vitalsign.web.portfolio import band_trend, portfolio_summary
from vitalsign.web.why_api import ExplainBody

router = APIRouter(  # a GET naming a parameter its route does not take is refused (400)
    prefix="/api/v1", tags=["api"], dependencies=[Depends(refuse_unknown_query)]
)


def _changing(request: Request, principal: Principal) -> None:
    check_api_csrf(request, principal)


@router.get("/me", responses=ERRORS, response_model=MeOut)
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    """Who is calling: name, role, and the owner a csm is limited to."""
    user = principal.user
    return {"name": user.name, "role": user.role, "owner": user.owner, "via": principal.via}


def _accounts(
    state: State,
    db: Any,
    principal: Principal,
    as_of: dt.date | None,
    band: str | None,
    owner: str | None,
    segment: str | None,
    q: str | None,
    sort: str,
    desc: bool,
    page: int,
    per_page: int,
) -> dict[str, Any]:
    model = state.model().spec
    catalog = state.catalog.at(db)
    day, previous = catalog.resolve(model.name, as_of)
    query = AccountQuery(band, owner, segment, q, sort, desc, page, per_page)
    result = list_accounts(
        db, principal, model.name, day, previous, query, catalog.dates(model.name)
    )
    body = page_body(result.rows, result.total, page, per_page)
    return {"as_of": day.isoformat(), "previous": plain(previous), **body}


SortParam = Annotated[str, Query(description=f"One of {', '.join(SORTS)}.")]


@router.get("/accounts", responses=ERRORS, response_model=AccountPage)
def accounts(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    as_of: AsOf = None,
    band: str | None = None,
    owner: str | None = None,
    segment: str | None = None,
    q: Annotated[str | None, Query(description="Part of the name or id.")] = None,
    sort: SortParam = "score",
    desc: bool = False,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """The accounts of a snapshot with their score and band, filtered, sorted and paged."""
    return _accounts(
        state, db, principal, as_of, band, owner, segment, q, sort, desc, page, per_page
    )


@router.get("/scores", responses=ERRORS, response_model=AccountPage)
def scores(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    as_of: AsOf = None,
    band: str | None = None,
    owner: str | None = None,
    segment: str | None = None,
    sort: SortParam = "account",
    desc: bool = False,
    page: PageNumber = 1,
    per_page: PerPage = 100,
) -> dict[str, Any]:
    """Every visible account's score on a snapshot (current by default), paged."""
    return _accounts(
        state, db, principal, as_of, band, owner, segment, None, sort, desc, page, per_page
    )


@router.get("/accounts/{account_id}", responses=ERRORS, response_model=AccountOut)
def account(
    state: State, db: Database, principal: CurrentPrincipal, account_id: str
) -> dict[str, Any]:
    """The account's attributes, custom fields, attribute changes and latest score row."""
    require_account(db, principal, account_id)
    name = state.model().name
    history = account_history(db, name, account_id)
    latest = score_row(db, name, account_id, history[-1]["snapshot_date"])
    columns = ", ".join(f'"{c}"' for c in (*ACCOUNTS.column_names, DELETED_AT))
    cursor = db.execute(f"SELECT {columns} FROM accounts WHERE account_id = ?", [account_id])
    found = cursor.fetchone()
    names = [d[0] for d in cursor.description]
    row = {} if found is None else {n: plain(v) for n, v in zip(names, found, strict=True)}
    deleted_at = row.pop(DELETED_AT, None)
    fields, changes = account_attributes(db, state.workspace.config.account_fields, account_id)
    return {
        "account_id": account_id,
        "attributes": row or None,
        "custom_fields": {f.name: f.value for f in fields},
        "deleted_at": deleted_at,
        "changes": [c.to_dict() for c in changes],
        "score": {k: plain(v) for k, v in latest.items()},
    }


@router.get("/accounts/{account_id}/score", responses=ERRORS, response_model=ScoreRow)
def account_score(
    state: State, db: Database, principal: CurrentPrincipal, account_id: str, as_of: AsOf = None
) -> dict[str, Any]:
    """The account's score row on a snapshot date (the latest by default)."""
    require_account(db, principal, account_id)
    name = state.model().name
    day = as_of or account_history(db, name, account_id)[-1]["snapshot_date"]
    return {k: plain(v) for k, v in score_row(db, name, account_id, day).items()}


@router.get("/accounts/{account_id}/history", responses=ERRORS, response_model=HistoryOut)
def account_history_route(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """The account's scores over time, with the model name and hash of each snapshot."""
    require_account(db, principal, account_id)
    history = account_history(db, state.model().name, account_id, HISTORY_COLUMNS)
    low, high = start or dt.date.min, end or dt.date.max
    kept = [row for row in history if low <= row["snapshot_date"] <= high]
    return {"account_id": account_id, "items": history_records(kept)}


@router.get("/accounts/{account_id}/explain", responses=ERRORS, response_model=ExplainBody)
def account_explain(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    as_of: AsOf = None,
    since: Annotated[dt.date | None, Query(description="Compare with this date.")] = None,
) -> dict[str, Any]:
    """Why the account scores what it does, and what it would take to reach the next band.

    Each signal's and group's loss (weight × (100 − points)), largest first, beside its
    contribution; group weights within their parent; the failed gate and fired flags with the
    values they read; the next band's smallest improvements; what changed since a date.
    """
    require_account(db, principal, account_id)
    return why_account(db, state.model(), account_id, as_of, since).to_dict()


@router.get("/accounts/{account_id}/overrides", responses=ERRORS, response_model=OverridesOut)
def account_overrides_route(
    db: Database, principal: CurrentPrincipal, account_id: str
) -> dict[str, Any]:
    """The account's overrides, newest first, with their state."""
    require_account(db, principal, account_id)
    return {"account_id": account_id, "items": account_overrides(db, account_id)}


@router.post(
    "/accounts/{account_id}/overrides",
    status_code=201,
    responses=ERRORS,
    response_model=OverrideCreated,
)
def account_override_add(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    body: OverrideIn,
) -> dict[str, Any]:
    """Override the band or a manual signal (admin, manager, the owning csm); shown at once."""
    require_account(db, principal, account_id)
    _changing(request, principal)
    override_id, rescored = create_override(
        db,
        principal,
        state.model(),
        account_id,
        body.target,
        body.value,
        body.reason,
        body.expires_on,
    )
    return {
        "override_id": override_id,
        "account_id": account_id,
        "rescored": rescored_body(rescored),
    }


@router.post(
    "/accounts/{account_id}/overrides/{override_id}/revoke",
    responses=ERRORS,
    response_model=OverrideRevoked,
)
def account_override_revoke(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    override_id: str,
    body: RevokeIn,
) -> dict[str, Any]:
    """Revoke an override now, re-scoring the latest snapshot without it; audited."""
    require_account(db, principal, account_id)
    _changing(request, principal)
    rescored = end_override(db, principal, state.model(), account_id, override_id, body.reason)
    return {"override_id": override_id, "revoked": True, "rescored": rescored_body(rescored)}


@router.get("/accounts/{account_id}/audit", responses=ERRORS, response_model=AuditOut)
def account_audit_route(
    db: Database, principal: CurrentPrincipal, account_id: str
) -> dict[str, Any]:
    """Who changed what about the account (overrides, alerts, tasks), newest first."""
    require_account(db, principal, account_id)
    return {"account_id": account_id, "items": account_audit(db, account_id, limit=200)}


@router.get("/portfolio", responses=ERRORS, response_model=PortfolioOut)
def portfolio(
    state: State, db: Database, principal: CurrentPrincipal, as_of: AsOf = None
) -> Response:
    """Bands by count and ARR, ARR at risk, by segment and owner, movers (the user's accounts)."""
    model = state.model().spec
    catalog = state.catalog.at(db)
    day, previous = catalog.resolve(model.name, as_of)

    def encoded() -> bytes:
        report = portfolio_summary(db, model, principal, day, previous)
        return json.dumps(report.to_dict(), default=str).encode()

    key = ("portfolio-json", model.name, day, book_key(db, principal))
    body = catalog.memo(key, encoded)
    return Response(body, media_type="application/json")


@router.get("/portfolio/trend", responses=ERRORS, response_model=TrendOut)
def portfolio_trend(state: State, db: Database, principal: CurrentPrincipal) -> dict[str, Any]:
    """Accounts and ARR per band on every snapshot date."""
    name = state.model().name
    frame = state.catalog.at(db).memo(
        ("trend", name, book_key(db, principal)), lambda: band_trend(db, name, principal)
    )
    items = [{k: plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
    return {"model": name, "items": items}


@router.get("/model", responses=ERRORS, response_model=ModelOut)
def model(state: State, db: Database, principal: CurrentPrincipal) -> dict[str, Any]:
    """The current model (name, hash, file), the models in the history, the backtest."""
    return model_summary(db, state).to_dict()


@router.post("/model/backtest", status_code=202, responses=ERRORS, response_model=BacktestStatus)
def model_backtest(
    request: Request, state: State, db: Database, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Start a backtest of the current model in the background (admin, manager)."""
    require_backtester(principal)
    _changing(request, principal)
    return start_backtest(db, state).to_dict()


api_inbox.add_routes(router, ERRORS)  # alerts and tasks
users_api.add_routes(router, ERRORS)
timeline.add_api_routes(router, ERRORS)  # account 360: timeline, notes, contacts
renewals.add_api_routes(router, ERRORS)
expansion.add_api_routes(router, ERRORS)  # expansion candidates (web/expansion.py)
exports.add_api_routes(router, ERRORS)  # every list as CSV
