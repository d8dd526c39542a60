"""A model file's text checked as `vitalsign check` does, and the model files beside it.

The admin's models page and `vitalsign model activate` take a model as text (an uploaded
file, a proposal calibrate wrote next to the model); before anything is activated the text is
checked here, and every problem comes back with its line so the page can show it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from vitalsign.errors import ModelError
from vitalsign.model.checks import Loc, check_model
from vitalsign.model.loader import LoadedModel, clean_message, locate, model_hash, plain_yaml
from vitalsign.model.spec import HealthModel
from vitalsign.store.workspace import Workspace

MAX_MODEL_BYTES = 1_000_000  # a model file is a few kB; refuse anything near a megabyte


@dataclass(frozen=True)
class ModelProblem:
    """One problem of a model file: its 1-based line (None: the whole file), key and message."""

    line: int | None
    key: str
    message: str

    def text(self, source: str) -> str:
        """The problem as `vitalsign check` prints it: `file:line key: message`."""
        where = f"{source}:{self.line}" if self.line else source
        return f"{where} {self.key}: {self.message}" if self.key else f"{where} {self.message}"


@dataclass(frozen=True)
class ModelCheck:
    """The result of checking a model's text: the model when valid, else its problems."""

    source: str
    model: LoadedModel | None
    problems: list[ModelProblem]

    @property
    def ok(self) -> bool:
        """Whether the text is a valid model."""
        return self.model is not None


def _problem(document: Any, loc: Loc, message: str) -> ModelProblem:
    line, keys = locate(document, loc)
    return ModelProblem(line, ".".join(keys) if keys else "(top level)", message)


def check_model_text(text: str, source: str, account_fields: Iterable[str] = ()) -> ModelCheck:
    """Check model YAML text as `vitalsign check` does; return the model or every problem.

    The problems are those `load_model` raises, one per line, each with its line number.
    """
    if len(text.encode("utf-8", "replace")) > MAX_MODEL_BYTES:
        message = f"is larger than {MAX_MODEL_BYTES:,} bytes; a model file is a few kB"
        return ModelCheck(source, None, [ModelProblem(None, "", message)])
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return ModelCheck(source, None, [ModelProblem(line, "", f"is not valid YAML: {problem}")])
    if not isinstance(document, CommentedMap):
        shape = "a model file is a mapping with name, signals, scorecards, bands"
        return ModelCheck(source, None, [ModelProblem(None, "", shape)])
    try:
        spec = HealthModel.model_validate(plain_yaml(document))
    except ValidationError as exc:
        problems = [
            _problem(document, tuple(e["loc"]), clean_message(e["msg"])) for e in exc.errors()
        ]
        return ModelCheck(source, None, problems)
    issues = check_model(spec, account_fields)
    if issues:
        return ModelCheck(source, None, [_problem(document, i.loc, i.message) for i in issues])
    return ModelCheck(source, LoadedModel(spec=spec, path=None, hash=model_hash(spec)), [])


def key_line(text: str, key: str) -> int | None:
    """The 1-based line of a dotted key path (`gate.when`, `signals.x.scale`) in model text."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except YAMLError:
        return None
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in key.split(".")]
    line, found = locate(document, tuple(parts))
    return line if found else None


def checked_model(text: str, source: str, workspace: Workspace) -> LoadedModel:
    """Return the model of `text`, or raise ModelError listing every problem with its line."""
    found = check_model_text(text, source, [f.name for f in workspace.config.account_fields])
    if found.model is None:
        raise ModelError("\n".join(p.text(source) for p in found.problems))
    return found.model


def checked_or_none(text: str | None, workspace: Workspace) -> LoadedModel | None:
    """The model of `text` when it is valid, else None (a broken file in place is not kept)."""
    if text is None:
        return None
    fields = [f.name for f in workspace.config.account_fields]
    return check_model_text(text, str(workspace.model_path), fields).model


def model_files(workspace: Workspace) -> list[Path]:
    """The model files beside the active one that can be picked: proposals first, by name.

    `vitalsign calibrate` writes MODEL.proposed.yml next to the model (analytics/calibrate.py).
    """
    folder = workspace.model_path.parent
    if not folder.is_dir():
        return []
    active = workspace.model_path.resolve()
    found = [
        p
        for p in folder.iterdir()
        if p.suffix in (".yml", ".yaml") and p.is_file() and p.resolve() != active
    ]
    return sorted(found, key=lambda p: (not p.name.endswith(".proposed.yml"), p.name))


def pick_model_file(workspace: Workspace, name: str) -> Path:
    """The model file called `name` among `model_files` (never a path elsewhere)."""
    for path in model_files(workspace):
        if path.name == name:
            return path
    folder = workspace.model_path.parent
    raise ModelError(
        f"no model file {name!r} in {folder}; run `vitalsign calibrate` to write a proposal "
        "there, or upload the file"
    )
