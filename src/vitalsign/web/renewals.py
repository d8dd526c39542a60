"""The renewals page and API: accounts renewing in the next 30/60/90/180 days by band.

Also ARR at risk (ARR of the model's worst band) per renewal month, filterable by owner and
segment; a csm sees their own book. The dates are counted from the snapshot shown (the
latest by default), so a workspace whose data ended last month still reads sensibly.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from vitalsign.analytics.renewals import HORIZONS, RenewalReport, renewals_report
from vitalsign.errors import VitalsignError
from vitalsign.web import charts
from vitalsign.web.access import Principal, book_key, scope_filter
from vitalsign.web.accounts import filter_choices
from vitalsign.web.auth import CurrentPrincipal, Database, State
from vitalsign.web.rendering import form_date, render
from vitalsign.web.state import WebState


class RenewalWindowOut(BaseModel):
    """Accounts and ARR per band renewing within `days`."""

    days: int
    accounts: int
    arr: float
    accounts_by_band: dict[str, int]
    arr_by_band: dict[str, float]


class RenewalMonthOut(BaseModel):
    """Renewals in one calendar month (YYYY-MM)."""

    month: str
    accounts: int
    arr: float
    arr_at_risk: float = Field(description="ARR of the accounts in the worst band.")


class RenewalOut(BaseModel):
    """One account renewing within the longest window."""

    account_id: str
    name: str | None
    owner: str | None
    segment: str | None
    arr: float | None
    score: float | None
    band: str
    computed_band: str
    renewal_date: dt.date
    days_to_renewal: int


class RenewalsOut(BaseModel):
    """The renewals ahead of a snapshot date."""

    as_of: dt.date
    at_risk_band: str
    windows: list[RenewalWindowOut]
    months: list[RenewalMonthOut]
    overdue: int = Field(description="Accounts whose renewal date lies before as_of.")
    items: list[RenewalOut]


def renewals_for(
    state: WebState,
    db: Any,
    principal: Principal,
    as_of: dt.date | None,
    owner: str | None,
    segment: str | None,
) -> RenewalReport:
    """Return the renewals report of the snapshot (latest by default) for the user's book."""
    loaded = state.model()
    spec = loaded.spec
    day, _ = state.catalog.at(db).resolve(loaded.name, as_of)
    return renewals_report(
        db,
        loaded.name,
        day,
        at_risk_band=spec.band_names[-1],
        bands=[*spec.band_names, spec.insufficient_band],
        scope=scope_filter(principal, "s.account_id"),
        owner=owner or None,
        segment=segment or None,
    )


def months_figure(report: RenewalReport, colour: str) -> dict[str, Any]:
    """Return the plotly figure of ARR renewing per month, the part at risk drawn apart."""
    months = [m["month"] for m in report.months]
    safe = [m["arr"] - m["arr_at_risk"] for m in report.months]
    return {
        "data": [
            {
                "type": "bar",
                "name": "ARR renewing",
                "x": months,
                "y": safe,
                "marker": {"color": "#8aa4c8"},
            },
            {
                "type": "bar",
                "name": f"ARR at risk ({report.at_risk_band})",
                "x": months,
                "y": [m["arr_at_risk"] for m in report.months],
                "marker": {"color": colour},
            },
        ],
        "layout": {
            "barmode": "stack",
            "margin": {"l": 64, "r": 16, "t": 16, "b": 40},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "yaxis": {"tickprefix": "$", "tickformat": ",.0f"},
            "legend": {"orientation": "h"},
            "height": 300,
        },
    }


router = APIRouter(include_in_schema=False)


@router.get("/renewals", name="renewals_page", response_class=HTMLResponse)
def renewals_page(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    owner: str = "",
    segment: str = "",
    as_of: str = "",
    within: int = max(HORIZONS),
) -> Response:
    """Accounts renewing in the next 30/60/90/180 days by band; ARR at risk per month.

    `within` (one of HORIZONS) limits the account list (and its export) to that window.
    """
    request.state.principal = principal  # the error page shows the navigation
    if within not in HORIZONS:
        raise VitalsignError(f"within={within}: use one of {', '.join(map(str, HORIZONS))}")
    report = renewals_for(state, db, principal, form_date(as_of), owner, segment)
    loaded = state.model()
    colours = charts.band_colours(
        [*loaded.spec.band_names, loaded.spec.insufficient_band], loaded.spec.insufficient_band
    )
    choices = state.catalog.at(db).memo(
        ("choices", loaded.name, report.as_of, book_key(db, principal)),
        lambda: filter_choices(db, principal, loaded.name, report.as_of),
    )
    return render(
        request,
        "renewals.html",
        principal,
        nav="renewals",
        charts=bool(report.months),
        report=report,
        colours=colours,
        choices=choices,
        owner=owner,
        segment=segment,
        within=within,
        horizons=HORIZONS,
        listed=[r for r in report.rows if r["days_to_renewal"] <= within],
        months_figure=months_figure(report, colours.get(report.at_risk_band, "#d64541")),
    )


def renewals_route(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    as_of: Annotated[
        dt.date | None, Query(description="Snapshot date (YYYY-MM-DD); default the latest.")
    ] = None,
    owner: str | None = None,
    segment: str | None = None,
) -> RenewalsOut:
    """Accounts renewing in the next 30/60/90/180 days by band, ARR at risk per month."""
    report = renewals_for(state, db, principal, as_of, owner, segment)
    body = report.to_dict()
    return RenewalsOut.model_validate(body)


def add_api_routes(api: APIRouter, responses: dict[int | str, dict[str, Any]]) -> None:
    """Add GET /renewals to the REST API's router."""
    api.add_api_route("/renewals", renewals_route, methods=["GET"], responses=responses)
