"""The workspace's model over time: check a candidate, activate it, keep every version.

Activating a model replaces the workspace's model file (vitalsign.yml `model:`) atomically
(a temporary file renamed over it), records the version with who activated it and when in
`model_versions`, and audits it in `audit_log`; the next scoring run, and the web app's next
request, read the new file. Every version stays in the table, so any earlier one can be
activated again. Candidates (an uploaded file or a proposal picked by an admin) wait in
`model_candidates` until they are activated or forgotten.

>>> ws = open_workspace("acme")  # doctest: +SKIP
>>> from vitalsign.store.model_text import check_model_text  # doctest: +SKIP
>>> checked = check_model_text(Path("new.yml").read_text(), "new.yml")  # doctest: +SKIP
>>> [p.line for p in checked.problems]  # doctest: +SKIP
[14]
>>> activate_model(ws, ws.duckdb, Path("new.yml").read_text(), "root", "new.yml")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitalsign.errors import ModelError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.model_text import checked_model, checked_or_none
from vitalsign.store.overrides import audit
from vitalsign.store.transaction import transaction
from vitalsign.store.workspace import Workspace

MODEL_TABLES = {
    "model_versions": """
        CREATE TABLE IF NOT EXISTS model_versions (
            version INTEGER PRIMARY KEY,
            model_name VARCHAR NOT NULL,
            model_hash VARCHAR NOT NULL,
            text VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            activated_by VARCHAR,
            activated_at TIMESTAMP NOT NULL
        )""",
    "model_candidates": """
        CREATE TABLE IF NOT EXISTS model_candidates (
            candidate_id VARCHAR PRIMARY KEY,
            model_name VARCHAR NOT NULL,
            model_hash VARCHAR NOT NULL,
            text VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            added_by VARCHAR NOT NULL,
            added_at TIMESTAMP NOT NULL
        )""",
}
_ACTIVATION = threading.Lock()
_TABLES = threading.Lock()
FOUND_IN_PLACE = "found in place"  # the source of a file that was active before any activation


@dataclass(frozen=True)
class ModelVersion:
    """One activation of a model: the text that became the workspace's model file."""

    version: int
    model_name: str
    model_hash: str
    text: str
    source: str
    activated_by: str | None  # None: the file was in place before vitalsign recorded any
    activated_at: dt.datetime


@dataclass(frozen=True)
class Candidate:
    """A checked model waiting to be compared with the active one and activated."""

    candidate_id: str
    model_name: str
    model_hash: str
    text: str
    source: str
    added_by: str
    added_at: dt.datetime


def ensure_model_tables(connection: Any) -> None:
    """Create `model_versions` and `model_candidates` when missing (idempotent).

    Created under a lock: two cursors creating a table at once is a catalog write conflict.
    """
    present = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name IN "
        "('model_versions', 'model_candidates')"
    ).fetchone()[0]
    if present == len(MODEL_TABLES):
        return
    with _TABLES:
        for statement in MODEL_TABLES.values():
            connection.execute(statement)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def add_candidate(
    connection: Any, workspace: Workspace, text: str, source: str, actor: str
) -> Candidate:
    """Keep a valid model as a candidate (the same text again returns the same candidate)."""
    model = checked_model(text, source, workspace)
    ensure_model_tables(connection)
    row = connection.execute(
        "SELECT candidate_id FROM model_candidates WHERE model_hash = ? AND text = ?",
        [model.hash, text],
    ).fetchone()
    if row is not None:
        return candidate(connection, str(row[0]))
    found = Candidate(secrets.token_hex(6), model.name, model.hash, text, source, actor, _now())
    with transaction(connection):
        connection.execute(
            "INSERT INTO model_candidates VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                found.candidate_id,
                found.model_name,
                found.model_hash,
                text,
                source,
                actor,
                found.added_at,
            ],
        )
        audit(
            connection, actor, "model.candidate", model.name, {"hash": model.hash, "from": source}
        )
    return found


def candidates(connection: Any) -> list[Candidate]:
    """Every candidate, newest first."""
    ensure_model_tables(connection)
    rows = connection.execute(
        "SELECT * FROM model_candidates ORDER BY added_at DESC, candidate_id"
    ).fetchall()
    return [Candidate(*row) for row in rows]


def candidate(connection: Any, candidate_id: str) -> Candidate:
    """The candidate `candidate_id`, or ModelError when there is none."""
    ensure_model_tables(connection)
    row = connection.execute(
        "SELECT * FROM model_candidates WHERE candidate_id = ?", [candidate_id]
    ).fetchone()
    if row is None:
        raise ModelError(
            f"no model candidate {candidate_id!r}; upload the file again or pick a proposal"
        )
    return Candidate(*row)


def model_versions(connection: Any) -> list[ModelVersion]:
    """Every activated version of the workspace's model, newest first."""
    ensure_model_tables(connection)
    rows = connection.execute("SELECT * FROM model_versions ORDER BY version DESC").fetchall()
    return [ModelVersion(*row) for row in rows]


def model_version(connection: Any, version: int) -> ModelVersion:
    """The version numbered `version`, or ModelError listing how to see them."""
    ensure_model_tables(connection)
    row = connection.execute("SELECT * FROM model_versions WHERE version = ?", [version]).fetchone()
    if row is None:
        raise ModelError(f"no model version {version}; `vitalsign model history` lists them")
    return ModelVersion(*row)


def active_version(connection: Any, workspace: Workspace) -> ModelVersion | None:
    """The recorded version the model file holds now (None: never activated, or hand-edited)."""
    current = workspace.load_model().hash
    return next((v for v in model_versions(connection) if v.model_hash == current), None)


def _next_version(connection: Any) -> int:
    row = connection.execute("SELECT coalesce(max(version), 0) + 1 FROM model_versions").fetchone()
    return int(row[0])


def _insert(connection: Any, version: ModelVersion) -> None:
    connection.execute(
        "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            version.version,
            version.model_name,
            version.model_hash,
            version.text,
            version.source,
            version.activated_by,
            version.activated_at,
        ],
    )


def _replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically: readers see the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def activate_model(
    workspace: Workspace, connection: Any, text: str, actor: str, source: str
) -> ModelVersion:
    """Make `text` the workspace's model: check it, replace the file, record and audit it.

    The file in place before is recorded first when no version holds it (a hand-edited or
    starter model), so it can be activated again later.
    """
    model = checked_model(text, source, workspace)
    path = workspace.model_path
    ensure_model_tables(connection)
    with _ACTIVATION:  # one activation at a time: the file and its record change together
        previous_text = path.read_text(encoding="utf-8") if path.exists() else None
        previous = checked_or_none(previous_text, workspace)
        if previous is not None and previous.hash == model.hash and previous_text == text:
            raise ModelError(
                f"{source}: model {model.name!r} ({model.hash}) is the active model already"
            )
        replaced = False
        try:
            with transaction(connection):
                version = _record(connection, model, text, source, actor, previous, previous_text)
                detail = {
                    "version": version.version,
                    "hash": model.hash,
                    "from": source,
                    "previous": None if previous is None else f"{previous.name} {previous.hash}",
                    "file": str(path),
                }
                audit(connection, actor, "model.activate", model.name, detail)
                _replace_file(path, text)  # last: a failed record leaves the old file in place
                replaced = True
        except BaseException:
            if replaced and previous_text is not None:  # the COMMIT failed: put the old file back
                _replace_file(path, previous_text)
            raise
    return version


def _record(
    connection: Any,
    model: LoadedModel,
    text: str,
    source: str,
    actor: str,
    previous: LoadedModel | None,
    previous_text: str | None,
) -> ModelVersion:
    """Insert the new version, after the file in place when no version holds its text."""
    now = _now()
    number = _next_version(connection)
    known = {v.text for v in model_versions(connection)}
    if previous is not None and previous_text is not None and previous_text not in known:
        kept = ModelVersion(
            number, previous.name, previous.hash, previous_text, FOUND_IN_PLACE, None, now
        )
        _insert(connection, kept)
        number += 1
    version = ModelVersion(number, model.name, model.hash, text, source, actor, now)
    _insert(connection, version)
    return version


def reactivate_version(
    workspace: Workspace, connection: Any, number: int, actor: str
) -> ModelVersion:
    """Activate an earlier version again (recorded as a new version, from `version N`)."""
    kept = model_version(connection, number)
    return activate_model(workspace, connection, kept.text, actor, f"version {number}")
