"""/admin/models (admins): the active model, candidates checked and compared, activation, history.

An admin uploads a model file (or picks one beside the active model, such as the proposal
`vitalsign calibrate` writes); its `check` problems are shown with their line numbers. A valid
file becomes a candidate, whose page shows the weight changes at once and the backtest
comparison against the active model (analytics/model_activation.py) as a background job,
then activates it (store/model_history.py: audited, the file replaced atomically, every
version kept). The same is served as JSON under /api/v1/admin/models.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vitalsign.analytics.model_activation import (
    PREVIEW_DATES,
    PREVIEW_REPLICATES,
    ActivationPreview,
    preview_activation,
    weight_changes,
)
from vitalsign.errors import ModelError, VitalsignError
from vitalsign.model.loader import LoadedModel
from vitalsign.store import model_history as history
from vitalsign.store import model_text
from vitalsign.store.workspace import Workspace
from vitalsign.web.access import HttpProblem, Principal
from vitalsign.web.auth import CurrentPrincipal, Database, State, check_form_csrf
from vitalsign.web.rendering import page_url, render
from vitalsign.web.state import WebState

log = logging.getLogger("vitalsign.web")
router = APIRouter()
NOTICES = {
    "activated": "Model activated: the next scoring run and every page use it now.",
    "candidate": "The file passes check: compare it with the active model, then activate it.",
}


def require_admin(request: Request, principal: Principal) -> None:
    """Let only admins manage the workspace's model."""
    request.state.principal = principal  # lets the error page show the navigation
    if principal.role != "admin":
        raise HttpProblem(403, "forbidden", "only an admin can change the workspace's model")


@dataclass(frozen=True)
class PreviewJob:
    """A comparison of a candidate with the active model: running, done or failed."""

    state: str
    started_at: dt.datetime
    preview: ActivationPreview | None = None
    error: str | None = None


class Previews:
    """Comparison jobs by (history version, active hash, candidate hash), each run once.

    A new scoring run or backfill changes the history version (web/catalog.py), so the next
    visit compares again on the new history.

    `dates` and `replicates` cap each comparison (analytics/model_activation.py).
    """

    def __init__(self, dates: int = PREVIEW_DATES, replicates: int = PREVIEW_REPLICATES) -> None:
        self.dates = dates
        self.replicates = replicates
        self._lock = threading.Lock()
        self._jobs: dict[tuple[Any, str, str], PreviewJob] = {}

    def get(self, version: Any, active: str, candidate: str) -> PreviewJob | None:
        """The job comparing these two models on this history, if one was started."""
        with self._lock:
            return self._jobs.get((version, active, candidate))

    def start(
        self,
        workspace: Workspace,
        version: Any,
        active: LoadedModel,
        candidate: LoadedModel,
        text: str,
    ) -> PreviewJob:
        """Start comparing (unless it runs or is done already); return the job.

        `text` is the candidate's file, whose lines the findings against the data name.
        """
        key = (version, active.hash, candidate.hash)
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._lock:
            if key in self._jobs and self._jobs[key].state != "failed":
                return self._jobs[key]
            job = PreviewJob("running", started)
            self._jobs[key] = job
        view = workspace.on_new_cursor()

        def work() -> None:
            try:
                found = preview_activation(
                    view,
                    active,
                    candidate,
                    replicates=self.replicates,
                    count=self.dates,
                    text=text,
                )
                result = PreviewJob("done", started, found)
            except VitalsignError as exc:
                result = PreviewJob("failed", started, error=str(exc))
            except Exception as exc:  # a bug: logged with its traceback, shown as failed
                log.exception("the model comparison failed")
                message = f"unexpected error ({type(exc).__name__}); see the server log"
                result = PreviewJob("failed", started, error=message)
            finally:
                view.close()
            with self._lock:
                self._jobs[key] = result

        threading.Thread(target=work, name="vitalsign-model-preview", daemon=True).start()
        return job


_previews_lock = threading.Lock()


def previews(request: Request) -> Previews:
    """The app's comparison jobs (created with the first request that needs them)."""
    with _previews_lock:
        found = getattr(request.app.state, "model_previews", None)
        if found is None:
            found = Previews()
            request.app.state.model_previews = found
        return found


def active_model(state: WebState) -> tuple[LoadedModel | None, str | None]:
    """The active model, or the problem of its file (a broken file can still be replaced)."""
    try:
        return state.model(), None
    except (VitalsignError, OSError) as exc:
        return None, str(exc)


def candidate_preview(
    request: Request, state: WebState, db: Any, candidate: history.Candidate
) -> tuple[LoadedModel, PreviewJob | None]:
    """The candidate's model and its comparison job, started when the active model loads."""
    model = model_text.checked_model(candidate.text, candidate.source, state.workspace)
    active, _ = active_model(state)
    if active is None:
        return model, None
    version = state.catalog.at(db).version
    jobs = previews(request)
    return model, jobs.start(state.workspace, version, active, model, candidate.text)


def _redirect(request: Request, name: str, notice: str, **params: Any) -> RedirectResponse:
    url = page_url(request, name, **params)
    return RedirectResponse(f"{url}?notice={notice}", status_code=303)


def _page(
    request: Request,
    state: WebState,
    db: Any,
    principal: Principal,
    status_code: int = 200,
    **context: Any,
) -> Response:
    active, broken = active_model(state)
    return render(
        request,
        "admin_models.html",
        principal,
        status_code=status_code,
        nav="admin",
        active=active,
        broken=broken,
        path=state.workspace.model_path,
        current=history.active_version(db, state.workspace) if active else None,
        versions=history.model_versions(db),
        candidates=history.candidates(db)[:10],
        files=[p.name for p in model_text.model_files(state.workspace)],
        notice=NOTICES.get(request.query_params.get("notice", "")),
        **context,
    )


@router.get(
    "/admin/models", name="admin_models_page", response_class=HTMLResponse, include_in_schema=False
)
def models_page(
    request: Request, state: State, db: Database, principal: CurrentPrincipal
) -> Response:
    """The active model and who activated it, candidates, files to pick, the history."""
    require_admin(request, principal)
    return _page(request, state, db, principal)


@router.post("/admin/models/upload", name="admin_models_upload", include_in_schema=False)
async def upload_model(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str | None, Form()] = None,
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Check an uploaded (or pasted) model: its problems with line numbers, or a candidate."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    source = "pasted text"
    if file is not None and file.filename:
        raw = await file.read(model_text.MAX_MODEL_BYTES + 1)
        source = file.filename
        text = raw.decode("utf-8", "replace")
    if not text.strip():
        raise ModelError("choose a model file to upload (or paste its text)")
    return await run_in_threadpool(_add, request, state, db, principal, text, source)


@router.post("/admin/models/pick", name="admin_models_pick", include_in_schema=False)
def pick_model(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str | None, Form()] = None,
    name: Annotated[str, Form()] = "",
) -> Response:
    """Check a model file beside the active one (e.g. a proposal) and make it a candidate."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    path = model_text.pick_model_file(state.workspace, name)
    return _add(request, state, db, principal, path.read_text(encoding="utf-8"), path.name)


def _add(
    request: Request, state: WebState, db: Any, principal: Principal, text: str, source: str
) -> Response:
    fields = [f.name for f in state.workspace.config.account_fields]
    checked = model_text.check_model_text(text, source, fields)
    if not checked.ok:
        return _page(request, state, db, principal, 422, checked=checked)
    found = history.add_candidate(db, state.workspace, text, source, principal.name)
    return _redirect(request, "admin_model_candidate", "candidate", candidate_id=found.candidate_id)


@router.get(
    "/admin/models/candidates/{candidate_id}",
    name="admin_model_candidate",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def candidate_page(
    request: Request, state: State, db: Database, principal: CurrentPrincipal, candidate_id: str
) -> Response:
    """A candidate: its weight changes, the backtest comparison and band moves, activate."""
    require_admin(request, principal)
    found = history.candidate(db, candidate_id)
    model, job = candidate_preview(request, state, db, found)
    active, _ = active_model(state)
    weights = weight_changes(active.spec, model.spec) if active else []
    path = state.workspace.model_path
    same = path.exists() and path.read_text(encoding="utf-8") == found.text
    return _page(
        request,
        state,
        db,
        principal,
        candidate=found,
        model=model,
        job=job,
        weights=[w for w in weights if abs(w.change) >= 0.05],
        same_as_active=same,
    )


@router.post(
    "/admin/models/candidates/{candidate_id}/activate",
    name="admin_model_candidate_activate",
    include_in_schema=False,
)
def activate_candidate(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    candidate_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Activate a candidate: the model file is replaced, the activation audited and kept."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    found = history.candidate(db, candidate_id)
    history.activate_model(state.workspace, db, found.text, principal.name, found.source)
    return _redirect(request, "admin_models_page", "activated")


@router.post(
    "/admin/models/versions/{version}/activate",
    name="admin_model_version_activate",
    include_in_schema=False,
)
def activate_version(
    request: Request,
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    version: int,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Activate an earlier version of the model again."""
    require_admin(request, principal)
    check_form_csrf(principal, csrf_token)
    history.reactivate_version(state.workspace, db, version, principal.name)
    return _redirect(request, "admin_models_page", "activated")
