"""The server-rendered pages: portfolio, account list, account, alerts inbox, model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vitalsign.web import charts, inbox
from vitalsign.web.access import Principal, book_key, require_account, require_backtester
from vitalsign.web.account_view import account_activity, account_view
from vitalsign.web.accounts import MAX_PAGE, SORTS, AccountQuery, filter_choices, list_accounts
from vitalsign.web.auth import CurrentPrincipal, Database, State, check_form_csrf
from vitalsign.web.expansion import account_expansion, portfolio_expansion
from vitalsign.web.login import router as login_router
from vitalsign.web.model_info import model_summary, start_backtest
from vitalsign.web.overrides import create_override, end_override, override_choices
from vitalsign.web.owner_names import keep_owner_names
from vitalsign.web.portfolio import band_trend, breakdown_table, portfolio_summary
from vitalsign.web.rendering import form_date, local_path, page_url, render, with_notice
from vitalsign.web.timeline import account_360

router = APIRouter(include_in_schema=False)
router.include_router(login_router)


def render_error(request: Request, status: int, title: str, code: str, message: str) -> Response:
    """Render the error page (used by the error handlers for non-API paths)."""
    principal = getattr(request.state, "principal", None)
    return render(
        request,
        "error.html",
        principal,
        status_code=status,
        status=status,
        title=title,
        code=code,
        message=message,
    )


def _seen(request: Request, principal: Principal) -> Principal:
    request.state.principal = principal  # lets the error page show the navigation
    return principal


def _redirect(request: Request, name: str, notice: str, **params: Any) -> RedirectResponse:
    url = page_url(request, name, **params)
    return RedirectResponse(f"{url}?notice={notice}", status_code=303)


@router.get("/", name="portfolio_page", response_class=HTMLResponse)
def portfolio_page(
    request: Request, state: State, db: Database, principal: CurrentPrincipal, as_of: str = ""
) -> Response:
    """Bands by count and ARR, their trend, ARR at risk, by segment and owner, movers."""
    _seen(request, principal)
    loaded = state.model()
    model = loaded.spec
    catalog = state.catalog.at(db)
    dates = catalog.dates(model.name)
    if not dates:
        return render(request, "portfolio.html", principal, nav="portfolio", report=None)
    day, previous = catalog.resolve(model.name, form_date(as_of))
    report = catalog.memo(
        ("portfolio", model.name, day, book_key(db, principal)),
        lambda: portfolio_summary(db, model, principal, day, previous),
    )
    trend = catalog.memo(
        ("trend", model.name, book_key(db, principal)),
        lambda: band_trend(db, model.name, principal),
    )
    colours = charts.band_colours(report.band_order, model.insufficient_band)
    empty = not report.total_accounts  # e.g. a csm whose book is empty: no charts of nothing
    return render(
        request,
        "portfolio.html",
        principal,
        nav="portfolio",
        charts=not empty,
        report=report,
        dates=dates,
        colours=colours,
        bands_figure=None if empty else charts.band_bars_figure(report.bands, colours),
        trend_figure=None
        if trend.empty
        else charts.trend_figure(trend, report.band_order, colours),
        by_segment=breakdown_table(report, "segment"),
        by_owner=breakdown_table(report, "owner"),
        expansion=catalog.memo(
            ("expansion", loaded.name, day, book_key(db, principal)),
            lambda: portfolio_expansion(db, loaded, principal, day),
        ),
    )


@router.get("/accounts", name="accounts_page", response_class=HTMLResponse)
def accounts_page(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    band: str = "",
    owner: str = "",
    segment: str = "",
    q: str = "",
    sort: str = "score",
    desc: bool = False,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    as_of: str = "",
) -> Response:
    """The accounts of a snapshot: filter by band, owner, segment and name; sort; page."""
    _seen(request, principal)
    model = state.model().spec
    catalog = state.catalog.at(db)
    day, previous = catalog.resolve(model.name, form_date(as_of))
    query = AccountQuery(
        band=band or None,
        owner=owner or None,
        segment=segment or None,
        search=q.strip() or None,
        sort=sort if sort in SORTS else "score",
        descending=desc,
        page=page,
        per_page=state.settings.page_size,
    )
    result = list_accounts(
        db, principal, model.name, day, previous, query, catalog.dates(model.name)
    )
    return render(
        request,
        "accounts.html",
        principal,
        nav="accounts",
        result=result,
        choices=catalog.memo(
            ("choices", model.name, day, book_key(db, principal)),
            lambda: filter_choices(db, principal, model.name, day),
        ),
        bands=[*model.band_names, model.insufficient_band],
        sorts=list(SORTS),
    )


@router.get("/accounts/{account_id}", name="account_page", response_class=HTMLResponse)
def account_page(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    as_of: str = "",
    since: str = "",
) -> Response:
    """One account: history, why (losses first), what changed since, alerts, tasks, overrides."""
    _seen(request, principal)
    require_account(db, principal, account_id)
    loaded = state.model()
    activity = account_activity(db, account_id)  # with the history version and owner names
    keep_owner_names(request, activity.owner_names)
    catalog = state.catalog.at(db, activity.version)
    serving = state.serving_data(catalog, loaded.name)
    request.state.data_source = "memory" if serving is not None else "duckdb"
    fields = state.workspace.config.account_fields
    day, earlier = form_date(as_of), form_date(since)
    view = account_view(
        db, loaded.name, account_id, day, serving, activity, fields, loaded, earlier, catalog.memo
    )
    colours = charts.band_colours(
        [*loaded.spec.band_names, loaded.spec.insufficient_band], loaded.spec.insufficient_band
    )
    open_alerts = (
        inbox.list_alerts_for(db, principal, account_id=account_id, per_page=20).items
        if activity.active_alerts
        else []
    )
    open_tasks = (
        inbox.list_tasks_for(db, principal, account_id=account_id, per_page=20).items
        if activity.active_tasks
        else []
    )
    return render(
        request,
        "account.html",
        principal,
        nav="accounts",
        charts=True,
        view=view,
        e=view.explanation,
        history_figure=charts.history_figure(view.history, colours),
        choices=override_choices(loaded.spec),
        alerts=open_alerts,
        tasks=open_tasks,
        today=dt.date.today(),
        **account_360(request, db, loaded.name, account_id, view.as_of, view.current),
        account_expansion=account_expansion(db, loaded, account_id, view.as_of, serving),
        expansion=catalog.memo(  # scores and expansion scores change together
            ("expansion", loaded.name, loaded.hash, view.as_of, book_key(db, principal), 5),
            lambda: portfolio_expansion(db, loaded, principal, view.as_of, limit=5),
        ),
    )


@router.post("/accounts/{account_id}/overrides", name="override_submit")
def override_submit(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    target: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",  # the form preselects nothing: missing says "choose"
    expires_on: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Record an override with its reason and expiry (audited); it shows at once."""
    _seen(request, principal)
    check_form_csrf(principal, csrf_token)
    _, rescored = create_override(
        db, principal, state.model(), account_id, target, value, reason, form_date(expires_on)
    )
    notice = "override" if rescored is not None else "override-later"
    return _redirect(request, "account_page", notice, account_id=account_id)


@router.post("/accounts/{account_id}/overrides/{override_id}/revoke", name="override_revoke")
def override_revoke(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    override_id: str,
    reason: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Revoke an override (audited); the computed value shows at once."""
    _seen(request, principal)
    check_form_csrf(principal, csrf_token)
    rescored = end_override(db, principal, state.model(), account_id, override_id, reason)
    notice = "revoked" if rescored is not None else "revoked-later"
    return _redirect(request, "account_page", notice, account_id=account_id)


@router.get("/alerts", name="alerts_page", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    status: str = "active",
    owner: str = "",
    severity: str = "",
    rule: str = "",
    account: str = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """The alerts inbox grouped by account with ARR; filters; acknowledge in bulk; tasks."""
    _seen(request, principal)
    query = inbox.InboxQuery(
        status=None if status == "all" else status,
        owner=owner or None,
        severity=severity or None,
        rule=rule or None,
        account_id=account or None,
    )
    found = inbox.inbox_page(db, principal, query, page, state.settings.page_size)
    tasks = inbox.list_tasks_for(db, principal, per_page=state.settings.page_size)
    return render(
        request,
        "alerts.html",
        principal,
        nav="alerts",
        inbox=found,
        tasks=tasks,
        status=status,
        owner=owner,
        severity=severity,
        rule=rule,
        account=account,
    )


@router.post("/alerts/{alert_id}/acknowledge", name="alert_acknowledge")
def alert_acknowledge(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    alert_id: str,
    note: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/alerts",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Acknowledge an alert (audited)."""
    _seen(request, principal)
    check_form_csrf(principal, csrf_token)
    inbox.acknowledge(db, principal, alert_id, note.strip() or None)
    return RedirectResponse(with_notice(local_path(next, "/alerts"), "acknowledged"), 303)


@router.post("/alerts/{alert_id}/feedback", name="alert_feedback")
def alert_feedback(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    alert_id: str,
    useful: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/alerts",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Say whether an alert was useful (audited)."""
    _seen(request, principal)
    check_form_csrf(principal, csrf_token)
    inbox.rate(db, principal, alert_id, useful == "yes", note.strip() or None)
    return RedirectResponse(with_notice(local_path(next, "/alerts"), "feedback"), 303)


@router.post("/tasks/{task_id}", name="task_update")
def task_update(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    task_id: str,
    status: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/alerts",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Move a task along, or close it with an outcome (audited)."""
    _seen(request, principal)
    check_form_csrf(principal, csrf_token)
    inbox.change_task(
        db,
        principal,
        task_id,
        status=status or None,
        note=note.strip() or None,
        outcome=outcome.strip() or None,
    )
    return RedirectResponse(with_notice(local_path(next, "/alerts"), "task"), 303)


@router.get("/model", name="model_page", response_class=HTMLResponse)
def model_page(
    request: Request, state: State, db: Database, principal: CurrentPrincipal
) -> Response:
    """The current model file, the models in the history, and the backtest summary."""
    _seen(request, principal)
    return render(request, "model.html", principal, nav="model", info=model_summary(db, state))


@router.post("/model/backtest", name="backtest_start")
def backtest_start(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Start a backtest of the current model in the background (admin, manager)."""
    _seen(request, principal)
    check_form_csrf(principal, csrf_token)
    require_backtester(principal)
    start_backtest(db, state)
    return _redirect(request, "model_page", "backtest")
