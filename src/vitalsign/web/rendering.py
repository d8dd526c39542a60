"""Jinja2 templates, their filters, and the context every page shares."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import plotly
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from vitalsign.errors import VitalsignError
from vitalsign.web.access import Principal
from vitalsign.web.owner_names import owner_name

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.auto_reload = False  # package files: no stat() of three templates per page
NOTICES = {
    "override": "Override recorded; the latest snapshot shows it now.",
    "override-later": "Override recorded; it applies from the next scoring run (the latest "
    "snapshot does not score this account).",
    "revoked": "Override revoked; the latest snapshot shows the computed value now.",
    "revoked-later": "Override revoked; the computed value applies from the next scoring run.",
    "acknowledged": "Alert acknowledged.",
    "feedback": "Thanks: your feedback is recorded.",
    "task": "Task updated.",
    "backtest": "Backtest started; reload this page in a minute.",
}
COUNTED_NOTICES = {  # a notice about several things, with `&n=` in the URL
    "acknowledged": (
        "No alert acknowledged (the ticked ones were not open).",
        "{n} alerts acknowledged.",
    ),
}
_AUDIT_HIDDEN = {"task_id", "account_id", "created_at", "created_by"}  # shown by the row itself
_EMPTY: tuple[Any, ...] = (None, "", "None", "NaT", "nan", [], {})


def audit_detail(detail: Any) -> str:
    """Return an audit entry's detail as one readable line, leaving out empty values."""
    if not isinstance(detail, dict):
        return "" if detail in _EMPTY else str(detail)
    parts = []
    for key, value in detail.items():
        if key in _AUDIT_HIDDEN or any(value is e or value == e for e in _EMPTY):
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        text = text if len(text) <= 120 else text[:119] + "…"
        parts.append(f"{str(key).replace('_', ' ')}: {text}")
    return "; ".join(parts)


def notice_text(request: Request) -> str | None:
    """Return the notice a redirect asked the page to show (`?notice=`, `&n=` for a count)."""
    key = request.query_params.get("notice", "")
    count = request.query_params.get("n", "")
    if key in COUNTED_NOTICES and count.isdigit() and int(count) != 1:
        none, many = COUNTED_NOTICES[key]
        return many.format(n=f"{int(count):,}") if int(count) else none
    return NOTICES.get(key)


def _money(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"${float(value):,.0f}"


def _points(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.{digits}f}"


def _percent(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.0%}"


def _signed(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):+.1f}"


def _raw(value: Any) -> str:
    if value is None:
        return "missing"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "missing"
    return str(int(number)) if number.is_integer() else f"{number:.4g}"


def _band_class(value: Any) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in str(value).lower())


TEMPLATES.env.filters.update(
    money=_money,
    points=_points,
    percent=_percent,
    signed=_signed,
    raw=_raw,
    band_class=_band_class,
    audit_detail=audit_detail,
)
_PATHS: dict[tuple[int, str, tuple[tuple[str, Any], ...]], str] = {}


@pass_context
def _url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> str:
    """Starlette's `url_for`, with route paths remembered (a page asks for a dozen)."""
    request: Request = context["request"]
    router = request.scope.get("router") or request.scope["app"]
    key = (id(router), name, tuple(sorted(path_params.items())))
    path = _PATHS.get(key)
    if path is None:
        path = str(router.url_path_for(name, **path_params))
        if len(_PATHS) >= 10_000:
            _PATHS.clear()
        _PATHS[key] = path
    return site_url(request, path)


def site_url(request: Request, path: str) -> str:
    """Return the link to `path` (a route path): under the configured base URL, else relative.

    Never built from the request's Host header, which a client chooses freely: with
    `web.base_url` (or `serve --base-url`) links are absolute under it, otherwise they are
    paths under the app's root path.
    """
    settings = request.app.state.web.settings
    if settings.base_url:
        return str(settings.base_url).rstrip("/") + path
    return str(request.scope.get("root_path", "")).rstrip("/") + path


def page_url(request: Request, name: str, /, **path_params: Any) -> str:
    """Return the link to the route called `name` (see `site_url`)."""
    return site_url(request, str(request.app.url_path_for(name, **path_params)))


TEMPLATES.env.globals["url_for"] = _url_for
TEMPLATES.env.filters["owner_name"] = owner_name  # names, not ids or e-mails


def local_path(target: str | None, default: str = "/") -> str:
    """Return `target` when it is a path on this site (no scheme, no host), else `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def with_notice(path: str, notice: str, count: int | None = None) -> str:
    """Return `path` with the notice the page it leads to shows (`?notice=` or `&notice=`)."""
    counted = "" if count is None else f"&n={count}"
    return f"{path}{'&' if '?' in path else '?'}notice={notice}{counted}"


def form_date(text: str | None, what: str = "") -> dt.date | None:
    """Parse a form's or query's YYYY-MM-DD date (None when blank); a typo says how to fix it."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        named = f"{what} " if what else ""
        raise VitalsignError(f"{named}{text!r} is not a date (use YYYY-MM-DD)") from exc


def query_url(request: Request, **changes: Any) -> str:
    """Return the current URL with some query parameters changed (None drops one)."""
    params = dict(request.query_params)
    params.pop("notice", None)
    params.pop("n", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return request.url.path + ("?" + urlencode(params) if params else "")


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the shared context (user, navigation, notices, plotly.js URL)."""
    notice = notice_text(request)
    shared = {
        "principal": principal,
        "plotly_version": plotly.__version__,
        "charts": False,
        "nav": "",
        "flashes": [notice] if notice else [],
        "query_url": lambda **changes: query_url(request, **changes),
    }
    response: HTMLResponse = TEMPLATES.TemplateResponse(
        request, template, {**shared, **context}, status_code=status_code
    )
    return response
