"""The quarterly review page (/review) and its API (/api/v1/review): stored reviews, run one.

The page reads the reviews stored under the workspace's reviews/ folder (written by
`vitalsign review` or the page's button; analytics/review_store.py): what needs attention,
the backtest of the last quarter, the comparison with the previous review, band churn rates
and signal drift, weight stability and the proposal. Every signed-in role may read it, as
the model page's backtest: it holds portfolio figures only, no account. Starting a review
is for admins and managers (it reads the whole history and calibrates: tens of seconds); it
runs in a background thread on its own cursor, one at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from vitalsign.analytics.drift import MODERATE, SIGNIFICANT
from vitalsign.analytics.review_store import (
    REPORT_FILE,
    review_folder,
    reviews_root,
    stored_reviews,
)
from vitalsign.errors import VitalsignError
from vitalsign.store.workspace import Workspace
from vitalsign.web.access import HttpProblem, require_backtester
from vitalsign.web.api_params import ERRORS
from vitalsign.web.auth import CurrentPrincipal, State, check_form_csrf
from vitalsign.web.rendering import page_url, render
from vitalsign.web.state import WebState

log = logging.getLogger("vitalsign.web")
REPLICATES = 100  # bootstrap replicates of a review started from the page (the CLI: 200)
LEVEL_COLOURS = {"stable": "#2e9e5b", "moderate": "#e0b000", "significant": "#d64541"}


@dataclass(frozen=True)
class ReviewRun:
    """A review started from the page: running, done or failed."""

    state: str
    started_at: dt.datetime
    started_by: str
    error: str | None = None


class ReviewRunner:
    """Runs one review at a time in a background thread; remembers the last run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last: ReviewRun | None = None

    def start(
        self, workspace: Workspace, by: str, period_days: int = 90, horizon_days: int = 90
    ) -> ReviewRun:
        """Start a review of the workspace's model (unless one is running)."""
        from vitalsign.analytics.review import run_review

        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._lock:
            if self.last is not None and self.last.state == "running":
                return self.last
            self.last = running = ReviewRun("running", started, by)
        view = workspace.on_new_cursor()

        def work() -> None:
            try:
                run_review(
                    view,
                    period_days=period_days,
                    horizon_days=horizon_days,
                    replicates=REPLICATES,
                )
                result = ReviewRun("done", started, by)
            except VitalsignError as exc:
                result = ReviewRun("failed", started, by, str(exc))
            except Exception as exc:  # a bug: logged with its traceback, shown as failed
                log.exception("the review failed")
                message = f"unexpected error ({type(exc).__name__}); see the server log"
                result = ReviewRun("failed", started, by, message)
            finally:
                view.close()
            with self._lock:
                self.last = result

        threading.Thread(target=work, name="vitalsign-review", daemon=True).start()
        return running


def _runner(request: Request) -> ReviewRunner:
    """The app's review runner (created on first use)."""
    runner: ReviewRunner | None = getattr(request.app.state, "reviews", None)
    if runner is None:
        runner = request.app.state.reviews = ReviewRunner()
    return runner


def _pick(state: WebState, as_of: dt.date | None) -> tuple[dict[str, Any] | None, list[str]]:
    """The review asked for (default: the latest) and every stored review's date."""
    reviews = stored_reviews(reviews_root(state.workspace))
    dates = [str(r["as_of"]) for r in reviews]
    if as_of is None:
        return (reviews[-1] if reviews else None), dates
    chosen = [r for r in reviews if r["as_of"] == as_of.isoformat()]
    if not chosen:
        raise HttpProblem(
            404, "not_found", f"no review as of {as_of}; stored: {', '.join(dates) or 'none'}"
        )
    return chosen[-1], dates


def psi_figure(review: dict[str, Any]) -> dict[str, Any]:
    """The PSI bar chart (signals and the score) as a plotly.js figure."""
    drifts = [*review.get("signal_drift", []), review["score_drift"]]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [d["psi"] or 0 for d in drifts],
                "y": [d["signal"] for d in drifts],
                "marker": {"color": [LEVEL_COLOURS.get(d["level"], "#9aa3ad") for d in drifts]},
            }
        ],
        "layout": {
            "margin": {"l": 180, "r": 16, "t": 16, "b": 40},
            "height": 28 * len(drifts) + 80,
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "xaxis": {"title": "PSI"},
            "yaxis": {"autorange": "reversed"},
            "shapes": [_threshold_line(x) for x in (MODERATE, SIGNIFICANT)],
        },
    }


def _threshold_line(x: float) -> dict[str, Any]:
    line = {"dash": "dot", "color": "#9aa3ad"}
    return {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "yref": "paper", "line": line}


pages = APIRouter(include_in_schema=False)


@pages.get("/review", name="review_page", response_class=HTMLResponse)
def review_page(
    request: Request, state: State, principal: CurrentPrincipal, as_of: str = ""
) -> Response:
    """The latest quarterly review (or the one `as_of`), and the button to run one."""
    request.state.principal = principal  # the error page shows the navigation
    day = _date(as_of)
    review, dates = _pick(state, day)
    return render(
        request,
        "review.html",
        principal,
        nav="review",
        charts=review is not None,
        review=review,
        dates=dates,
        run=_runner(request).last,
        can_run=principal.role in ("admin", "manager"),
        psi_figure=None if review is None else psi_figure(review),
        thresholds=(MODERATE, SIGNIFICANT),
    )


@pages.get("/review/{as_of}/report", name="review_report")
def review_report(state: State, principal: CurrentPrincipal, as_of: str) -> Response:
    """The stored self-contained HTML report of one review."""
    day = _date(as_of)
    assert day is not None
    _pick(state, day)  # 404 unless stored
    path = review_folder(reviews_root(state.workspace), day) / REPORT_FILE
    if not path.is_file():
        raise HttpProblem(404, "not_found", f"the review of {day} has no {REPORT_FILE}")
    return FileResponse(path, media_type="text/html")


@pages.post("/review/run", name="review_run")
def review_run(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str, Form()] = "",
    period: Annotated[int, Form(ge=7, le=366)] = 90,
    horizon: Annotated[int, Form(ge=1, le=730)] = 90,
) -> Response:
    """Start a quarterly review in the background (admin, manager); periods in days."""
    request.state.principal = principal
    check_form_csrf(principal, csrf_token)
    require_backtester(principal)
    _runner(request).start(state.workspace, principal.name, period, horizon)
    return RedirectResponse(page_url(request, "review_page"), status_code=303)


def _date(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise VitalsignError(f"as_of={text!r} is not a date (use YYYY-MM-DD)") from exc


class SignalDriftOut(BaseModel):
    """One signal's PSI, the later quarter (ending at the review date) against the earlier."""

    signal: str
    psi: float | None
    level: str = Field(description="stable (< 0.1), moderate (0.1 to 0.25) or significant.")


class RateOut(BaseModel):
    """A figure with its 95% interval (None where it cannot be computed)."""

    value: float | None
    low: float | None
    high: float | None


class BandDriftOut(BaseModel):
    """One band's churn rate in the earlier and the later labelled quarter, and the change."""

    band: str
    last_rate: RateOut = Field(description="The earlier quarter's (JSON key kept: `last`).")
    this_rate: RateOut = Field(description="The later quarter's, the one backtested.")
    change: RateOut
    drifting: bool


class ReviewOut(BaseModel):
    """A stored quarterly review's headline (the full JSON is review.json in its folder)."""

    as_of: dt.date
    model_name: str
    model_hash: str
    dates: list[dt.date] = Field(description="Every stored review's date, oldest first.")
    findings: list[str]
    all_clear: str | None = Field(
        description="With no findings: what was checked and what was not (e.g. weights)."
    )
    roc_auc: RateOut | None = Field(description="The backtest of the last labelled quarter.")
    previous_as_of: dt.date | None
    roc_auc_change: float | None = Field(description="Against the previous review.")
    signal_drift: list[SignalDriftOut]
    band_drift: list[BandDriftOut]
    proposal_path: str | None
    proposal_verdict: str | None
    notes: list[str]


api = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)


@api.get("/review", response_model=ReviewOut)
def review_route(
    state: State,
    principal: CurrentPrincipal,
    as_of: Annotated[
        dt.date | None, Query(description="Review date (YYYY-MM-DD); default the latest.")
    ] = None,
) -> ReviewOut:
    """The latest stored quarterly review (or the one `as_of`); 404 when there is none."""
    review, dates = _pick(state, as_of)
    if review is None:
        raise HttpProblem(404, "not_found", "no review yet: run `vitalsign review`")
    return review_out(review, dates)


def review_out(review: dict[str, Any], dates: list[str]) -> ReviewOut:
    """The API's view of a stored review."""
    backtest = review.get("backtest") or {}
    previous = review.get("previous") or {}
    proposal = review.get("proposal") or {}
    return ReviewOut(
        as_of=review["as_of"],
        model_name=review["model"]["name"],
        model_hash=review["model"]["hash"],
        dates=[dt.date.fromisoformat(d) for d in dates],
        findings=review.get("findings", []),
        all_clear=review.get("all_clear"),
        roc_auc=backtest.get("roc_auc"),
        previous_as_of=previous.get("as_of"),
        roc_auc_change=(previous.get("roc_auc") or {}).get("change"),
        signal_drift=review.get("signal_drift", []),
        band_drift=review.get("band_drift", []),
        proposal_path=proposal.get("path"),
        proposal_verdict=proposal.get("verdict"),
        notes=review.get("notes", []),
    )
