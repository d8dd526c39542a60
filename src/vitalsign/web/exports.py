"""CSV exports of every list (accounts, alerts, tasks, renewals) with the list's current filters.

The same query parameters as the page or the API list, answered with every matching row (no
paging) as CSV; a csm gets only their book, as on the lists. Served twice: for the pages'
"export CSV" links (`/accounts.csv`, session cookie) and in the REST API
(`/api/v1/accounts.csv`, bearer token).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from vitalsign.analytics.renewals import HORIZONS, renewal_rows
from vitalsign.web import inbox
from vitalsign.web.access import Principal, scope_filter
from vitalsign.web.accounts import SORTS, AccountQuery, list_accounts
from vitalsign.web.api_params import AccountAlias, one_account
from vitalsign.web.auth import CurrentPrincipal, Database, State
from vitalsign.web.state import WebState

EXPORT_PAGE = 5_000  # accounts read per query while exporting a long list
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell

ACCOUNT_COLUMNS = [
    "account_id",
    "name",
    "owner",
    "segment",
    "arr",
    "renewal_date",
    "days_to_renewal",
    "score",
    "previous_score",
    "change",
    "band",
    "computed_band",
    "coverage",
    "gate_pass",
    "flags",
]
ALERT_COLUMNS = [
    "alert_id",
    "account_id",
    "account_name",
    "owner",
    "arr",
    "rule",
    "severity",
    "status",
    "band",
    "summary",
    "snapshot_date",
    "opened_at",
    "acknowledged_by",
    "acknowledged_at",
    "resolved_date",
    "resolved_reason",
    "useful",
]
TASK_COLUMNS = [
    "task_id",
    "account_id",
    "title",
    "playbook",
    "assignee",
    "due_date",
    "status",
    "outcome",
    "alert_id",
    "alert_rule",
    "alert_summary",
    "created_at",
    "closed_at",
]
RENEWAL_COLUMNS = [
    "account_id",
    "name",
    "owner",
    "segment",
    "arr",
    "renewal_date",
    "days_to_renewal",
    "score",
    "band",
    "computed_band",
]

ROUNDED = {"score": 1, "previous_score": 1, "change": 1, "base_score": 1, "coverage": 3}


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    """Return the row with its scores rounded as the pages show them (1 decimal)."""
    return {
        k: round(float(v), ROUNDED[k]) if k in ROUNDED and isinstance(v, int | float) else v
        for k, v in row.items()
    }


def _with_arr(db: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return alert rows with their account's ARR (as the inbox shows it)."""
    ids = sorted({str(r["account_id"]) for r in rows})
    found = db.execute(
        "SELECT account_id, arr FROM accounts WHERE account_id IN (SELECT UNNEST(?::VARCHAR[]))",
        [ids],
    ).fetchall()
    arr = {str(a): None if v is None else float(v) for a, v in found}
    return [{**r, "arr": arr.get(str(r["account_id"]))} for r in rows]


def _cell(value: Any) -> Any:
    """Return a value as a CSV cell: lists joined, text that a spreadsheet would run defused."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """Return the rows as CSV text with a header line (only `columns`, in that order)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def csv_response(name: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Response:
    """Return a CSV download called `name`.csv."""
    return Response(
        csv_text(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _day(state: WebState, db: Any, as_of: dt.date | None) -> tuple[str, dt.date, dt.date | None]:
    name = state.model().name
    day, previous = state.catalog.at(db).resolve(name, as_of)
    return name, day, previous


def export_accounts(
    db: Any,
    principal: Principal,
    model_name: str,
    day: dt.date,
    previous: dt.date | None,
    query: AccountQuery,
    snapshot_dates: Sequence[dt.date] | None = None,
) -> list[dict[str, Any]]:
    """Return every account the list shows with `query`'s filters and sort (all pages)."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        chunk = AccountQuery(
            query.band,
            query.owner,
            query.segment,
            query.search,
            query.sort,
            query.descending,
            page,
            EXPORT_PAGE,
        )
        found = list_accounts(db, principal, model_name, day, previous, chunk, snapshot_dates)
        rows += found.rows
        if page >= found.pages:
            return rows
        page += 1


AsOfParam = Annotated[dt.date | None, Query(description="Snapshot date; default the latest.")]


def accounts_csv(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    as_of: AsOfParam = None,
    band: str | None = None,
    owner: str | None = None,
    segment: str | None = None,
    q: Annotated[str | None, Query(description="Part of the name or id.")] = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(SORTS)}.")] = "score",
    desc: bool = False,
) -> Response:
    """Every account of the list with its filters and sort, as CSV (renewal and ARR included)."""
    name, day, previous = _day(state, db, as_of)
    query = AccountQuery(
        band or None,
        owner or None,
        segment or None,
        (q or "").strip() or None,
        sort if sort in SORTS else "score",
        desc,
    )
    dates = state.catalog.at(db).dates(name)
    rows = export_accounts(db, principal, name, day, previous, query, dates)
    return csv_response(f"accounts-{day}", ACCOUNT_COLUMNS, (_rounded(r) for r in rows))


def alerts_csv(
    db: Database,
    principal: CurrentPrincipal,
    status: Annotated[
        str, Query(description="active (default), open, acknowledged, resolved or all.")
    ] = "active",
    owner: str | None = None,
    severity: str | None = None,
    rule: str | None = None,
    account_id: str | None = None,
    account: AccountAlias = None,
) -> Response:
    """Every alert of the inbox with its filters, newest first, as CSV."""
    query = inbox.InboxQuery(
        status=None if status == "all" else status or "active",
        owner=owner or None,
        severity=severity or None,
        rule=rule or None,
        account_id=one_account(account_id, account) or None,
    )
    rows = _with_arr(db, [a.to_dict() for a in inbox.filter_alerts(db, principal, query)])
    return csv_response("alerts", ALERT_COLUMNS, rows)


def tasks_csv(
    db: Database,
    principal: CurrentPrincipal,
    status: Annotated[
        str, Query(description="active (default), open, in_progress, closed or all.")
    ] = "active",
    assignee: str | None = None,
    account_id: str | None = None,
) -> Response:
    """Every task with the list's filters, soonest due first, as CSV."""
    listing = inbox.list_tasks_for(
        db,
        principal,
        account_id=account_id or None,
        assignee=assignee or None,
        status=None if status == "all" else status or "active",
        page=1,
        per_page=inbox.ALL,
    )
    return csv_response("tasks", TASK_COLUMNS, (t.to_dict() for t in listing.items))


def renewals_csv(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    as_of: AsOfParam = None,
    owner: str | None = None,
    segment: str | None = None,
    within: Annotated[
        int, Query(ge=0, le=3650, description="Days ahead (default the longest window, 180).")
    ] = max(HORIZONS),
) -> Response:
    """Every account renewing within `within` days of the snapshot, soonest first, as CSV."""
    name, day, _ = _day(state, db, as_of)
    scope = scope_filter(principal, "s.account_id")
    rows = renewal_rows(
        db, name, day, scope=scope, owner=owner or None, segment=segment or None, within=within
    )
    return csv_response(f"renewals-{day}", RENEWAL_COLUMNS, (_rounded(r) for r in rows))


Endpoint = Callable[..., Response]
EXPORTS: tuple[tuple[str, str, Endpoint], ...] = (
    ("/accounts.csv", "accounts_csv", accounts_csv),
    ("/alerts.csv", "alerts_csv", alerts_csv),
    ("/tasks.csv", "tasks_csv", tasks_csv),
    ("/renewals.csv", "renewals_csv", renewals_csv),
)
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The list as CSV.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}

router = APIRouter(include_in_schema=False)  # the pages' "export CSV" links
for _path, _name, _endpoint in EXPORTS:
    router.add_api_route(_path, _endpoint, methods=["GET"], name=_name, response_class=Response)


def add_api_routes(api: APIRouter, responses: dict[int | str, dict[str, Any]]) -> None:
    """Add the CSV exports to the REST API's router (/api/v1/accounts.csv, ...)."""
    for path, name, endpoint in EXPORTS:
        api.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            name=f"api_{name}",
            response_class=Response,
            responses={**responses, **CSV_RESPONSE},
        )
