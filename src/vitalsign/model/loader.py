"""Load a health-model YAML file, validate it, and name every problem by file, line and key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from vitalsign.errors import ModelError, VitalsignError
from vitalsign.model.checks import Loc, ModelIssue, check_model
from vitalsign.model.spec import HealthModel


@dataclass(frozen=True)
class LoadedModel:
    """A validated model with where it came from and its identity hash."""

    spec: HealthModel
    path: Path | None
    hash: str

    @property
    def name(self) -> str:
        """The model's name."""
        return self.spec.name


def model_hash(model: HealthModel) -> str:
    """Return a content hash of the model's meaning (comments and layout do not count)."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def locate(document: Any, loc: Loc) -> tuple[int | None, list[str]]:
    """Return the 1-based line of the deepest key of `loc` found, and the keys found."""
    node = document
    line: int | None = None
    found: list[str] = []
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
            found.append(str(part))
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
            found.append(str(part))
        elif part == loc[-1] and isinstance(node, CommentedMap) and node.get("type") != part:
            found.append(str(part))  # a missing key; other unknown parts are union tags
    return line, found


def located_message(source: str, document: Any, loc: Loc, text: str) -> str:
    """Return `text` prefixed with `file:line key.path:` for the key at `loc`."""
    line, keys = locate(document, loc)
    where = f"{source}:{line}" if line else source
    key = ".".join(keys) if keys else "(top level)"
    return f"{where} {key}: {text}"


def read_yaml_mapping(
    text: str, source: str, error: type[VitalsignError], shape: str
) -> CommentedMap:
    """Parse YAML keeping line numbers; raise `error` unless it is a mapping (`shape` says what)."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise error(f"{source}{line} is not valid YAML: {exc.problem}") from exc
    if not isinstance(document, CommentedMap):
        raise error(f"{source}: {shape}")
    return document


def located_messages(source: str, document: Any, issues: Iterable[ModelIssue]) -> str:
    """Return one `file:line key: message` line per issue."""
    return "\n".join(located_message(source, document, i.loc, i.message) for i in issues)


def validation_messages(
    source: str, document: Any, exc: ValidationError, tag_to_type: bool = False
) -> str:
    """Return pydantic's errors as `file:line key: message` lines.

    With `tag_to_type`, an unknown union tag points at the `type` key that chose it.
    """
    return "\n".join(
        located_message(
            source,
            document,
            (*err["loc"], "type")
            if tag_to_type and err["type"] == "union_tag_invalid"
            else tuple(err["loc"]),
            clean_message(err["msg"]),
        )
        for err in exc.errors()
    )


def parse_model(
    text: str, source: str = "<model>", account_fields: Iterable[str] = ()
) -> LoadedModel:
    """Parse and validate model YAML text; raise ModelError naming every problem.

    `account_fields` are the workspace's custom account columns (vitalsign.yml).
    """
    document = read_yaml_mapping(
        text, source, ModelError, "a model file is a mapping with name, signals, scorecards, bands"
    )
    try:
        spec = HealthModel.model_validate(plain_yaml(document))
    except ValidationError as exc:
        raise ModelError(validation_messages(source, document, exc)) from exc
    issues = check_model(spec, account_fields)
    if issues:
        raise ModelError(located_messages(source, document, issues))
    return LoadedModel(spec=spec, path=None, hash=model_hash(spec))


def load_model(path: str | Path, account_fields: Iterable[str] = ()) -> LoadedModel:
    """Load and validate the model file at `path`.

    >>> load_model("models/default.yml").name  # doctest: +SKIP
    'default'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: no such model file; create one with `vitalsign init`") from exc
    loaded = parse_model(text, str(path), account_fields)
    return LoadedModel(spec=loaded.spec, path=path, hash=loaded.hash)


def clean_message(message: str) -> str:
    """Strip pydantic's "Value error, " prefix from a validation message."""
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def plain_yaml(node: Any) -> Any:
    """Turn ruamel's round-trip containers into plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): plain_yaml(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_yaml(v) for v in node]
    return node
