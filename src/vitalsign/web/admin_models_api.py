"""/api/v1/admin/models (admins): the model history, check, candidates, comparison, activation.

The JSON twin of /admin/models (web/admin_models.py), for scripts and notebooks; every change
needs an admin's token, or a browser session with the X-CSRF-Token header.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from vitalsign.analytics.model_activation import ActivationPreview
from vitalsign.errors import ModelError
from vitalsign.store import model_history as history
from vitalsign.store import model_text
from vitalsign.web.admin_models import active_model, candidate_preview, require_admin
from vitalsign.web.api_params import ERRORS
from vitalsign.web.auth import CurrentPrincipal, Database, State, check_api_csrf

router = APIRouter(prefix="/api/v1/admin/models", tags=["admin"], responses=ERRORS)


class VersionOut(BaseModel):
    """One activation of the workspace's model (the text is kept to re-activate it)."""

    version: int
    model_name: str
    model_hash: str
    source: str = Field(description="The uploaded file, proposal or `version N` it came from.")
    activated_by: str | None = Field(description="None: in place before any activation.")
    activated_at: dt.datetime


class CandidateOut(BaseModel):
    """A checked model waiting to be compared and activated."""

    candidate_id: str
    model_name: str
    model_hash: str
    source: str
    added_by: str
    added_at: dt.datetime


class ActiveOut(BaseModel):
    """The model the workspace scores with, and its recorded activation if any."""

    name: str | None
    hash: str | None
    path: str
    problem: str | None = Field(description="Why the model file does not load, if it does not.")
    version: VersionOut | None


class ModelsOut(BaseModel):
    """The active model, its history, the candidates and the files that can be picked."""

    active: ActiveOut
    versions: list[VersionOut]
    candidates: list[CandidateOut]
    files: list[str]


class ModelIn(BaseModel):
    """A model's YAML text, and a name for it in messages."""

    text: str = Field(max_length=model_text.MAX_MODEL_BYTES)
    source: str = Field(default="upload", max_length=200)


class ProblemOut(BaseModel):
    """One problem of a model file, located by line and key."""

    line: int | None
    key: str
    message: str
    text: str = Field(description="As `vitalsign check` prints it: file:line key: message.")


class CheckOut(BaseModel):
    """Whether a model's text is valid; its problems when not."""

    ok: bool
    name: str | None
    hash: str | None
    problems: list[ProblemOut]


class WeightOut(BaseModel):
    """A signal's share (%) of a scorecard under the active model and the candidate."""

    scorecard: str
    signal: str
    before: float | None
    after: float | None
    change: float


class ChangedOut(BaseModel):
    """An account whose band would change on the latest date."""

    account_id: str
    name: str | None
    band_active: str | None
    band_candidate: str | None
    score_active: float | None
    score_candidate: float | None


class ComparisonOut(BaseModel):
    """The candidate against the active model on the same dates and outcomes."""

    dates: list[dt.date]
    horizon_days: int
    rows: int
    churned: int
    auc_active: str
    auc_candidate: str
    auc_difference: str = Field(description="Candidate minus active, with its 95% interval.")
    latest: dt.date
    accounts_latest: int
    changed_band: int = Field(description="Accounts whose band would change on `latest`.")
    band_moves: dict[str, dict[str, int]]
    changed: list[ChangedOut]


class FindingOut(BaseModel):
    """What `vitalsign check` says of the candidate against the workspace's data."""

    severity: str = Field(description="error or warning")
    line: int | None
    key: str
    message: str


class PreviewOut(BaseModel):
    """A candidate's weight changes, check against the data, comparison (poll while running)."""

    candidate: CandidateOut
    state: str = Field(description="running, done or failed")
    weights: list[WeightOut]
    findings: list[FindingOut]
    comparison: ComparisonOut | None
    error: str | None


class ActivateIn(BaseModel):
    """Which model to activate: a candidate, or an earlier version."""

    candidate_id: str | None = None
    version: int | None = None


def _version(found: history.ModelVersion | None) -> dict[str, Any] | None:
    if found is None:
        return None
    keep = ("version", "model_name", "model_hash", "source", "activated_by", "activated_at")
    return {k: getattr(found, k) for k in keep}


def _candidate(found: history.Candidate) -> dict[str, Any]:
    keep = ("candidate_id", "model_name", "model_hash", "source", "added_by", "added_at")
    return {k: getattr(found, k) for k in keep}


@router.get("", response_model=ModelsOut)
def models(request: Request, state: State, db: Database, principal: CurrentPrincipal) -> Any:
    """The active model, every version activated (who, when), candidates and files (admin)."""
    require_admin(request, principal)
    active, problem = active_model(state)
    return {
        "active": {
            "name": active.name if active else None,
            "hash": active.hash if active else None,
            "path": str(state.workspace.model_path),
            "problem": problem,
            "version": _version(history.active_version(db, state.workspace) if active else None),
        },
        "versions": [_version(v) for v in history.model_versions(db)],
        "candidates": [_candidate(c) for c in history.candidates(db)],
        "files": [p.name for p in model_text.model_files(state.workspace)],
    }


@router.post("/check", response_model=CheckOut)
def check(request: Request, state: State, body: ModelIn, principal: CurrentPrincipal) -> Any:
    """Check a model's text as `vitalsign check` does; nothing is stored (admin)."""
    require_admin(request, principal)
    fields = [f.name for f in state.workspace.config.account_fields]
    found = model_text.check_model_text(body.text, body.source, fields)
    return {
        "ok": found.ok,
        "name": found.model.name if found.model else None,
        "hash": found.model.hash if found.model else None,
        "problems": [{**p.__dict__, "text": p.text(body.source)} for p in found.problems],
    }


@router.post("/candidates", response_model=CandidateOut, status_code=201)
def add_candidate(
    request: Request, state: State, db: Database, body: ModelIn, principal: CurrentPrincipal
) -> Any:
    """Keep a valid model as a candidate; an invalid one answers 400 with its problems (admin)."""
    require_admin(request, principal)
    check_api_csrf(request, principal)
    found = history.add_candidate(db, state.workspace, body.text, body.source, principal.name)
    return _candidate(found)


def _comparison(preview: ActivationPreview) -> dict[str, Any] | None:
    found = preview.comparison
    if found is None:
        return None
    changed = [
        {
            "account_id": r["account_id"],
            "name": r["name"],
            "band_active": r["band_a"],
            "band_candidate": r["band_b"],
            "score_active": r["score_a"],
            "score_candidate": r["score_b"],
        }
        for r in found.to_dict()["changed"]
    ]
    return {
        "dates": preview.dates,
        "horizon_days": found.horizon_days,
        "rows": found.rows,
        "churned": found.churned,
        "auc_active": str(found.auc_a),
        "auc_candidate": str(found.auc_b),
        "auc_difference": str(found.auc_difference),
        "latest": found.latest,
        "accounts_latest": found.accounts_latest,
        "changed_band": len(found.changed),
        "band_moves": found.to_dict()["band_moves"],
        "changed": changed,
    }


@router.get("/candidates/{candidate_id}/preview", response_model=PreviewOut)
def preview(
    request: Request, state: State, db: Database, principal: CurrentPrincipal, candidate_id: str
) -> Any:
    """A candidate's weight changes and backtest comparison; starts it if needed (admin)."""
    require_admin(request, principal)
    found = history.candidate(db, candidate_id)
    _, job = candidate_preview(request, state, db, found)
    done = job.preview if job is not None else None
    return {
        "candidate": _candidate(found),
        "state": job.state if job is not None else "failed",
        "weights": [w.to_dict() for w in done.weights] if done else [],
        "findings": [f.to_dict() for f in done.findings] if done else [],
        "comparison": _comparison(done) if done else None,
        "error": (done.error if done else job.error) if job else "the active model does not load",
    }


@router.post("/activate", response_model=VersionOut)
def activate(
    request: Request, state: State, db: Database, body: ActivateIn, principal: CurrentPrincipal
) -> Any:
    """Activate a candidate or an earlier version: file replaced, audited, kept (admin)."""
    require_admin(request, principal)
    check_api_csrf(request, principal)
    if (body.candidate_id is None) == (body.version is None):
        raise ModelError("give either candidate_id or version (one of them)")
    if body.version is not None:
        return _version(
            history.reactivate_version(state.workspace, db, body.version, principal.name)
        )
    found = history.candidate(db, str(body.candidate_id))
    made = history.activate_model(state.workspace, db, found.text, principal.name, found.source)
    return _version(made)
