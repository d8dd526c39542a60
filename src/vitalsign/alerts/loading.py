"""Load a workspace's alerts.yml: environment variables, validation, checks against the model.

Every problem is reported as `alerts.yml:LINE key.path: what is wrong`, like model files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from vitalsign.alerts.config import (
    AlertConfig,
    BandEntered,
    BandLeft,
    CommercialDisagreement,
    DataStale,
    ExpansionCandidate,
    FlagRaised,
    GateFailed,
    SignalChange,
    SignalThreshold,
)
from vitalsign.alerts.tasks import template_problems
from vitalsign.errors import AlertError
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.checks import Loc, ModelIssue
from vitalsign.model.loader import (
    located_messages,
    plain_yaml,
    read_yaml_mapping,
    validation_messages,
)
from vitalsign.model.spec import Group, HealthModel

ALERTS_FILE = "alerts.yml"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class LoadedAlertConfig:
    """A validated alerts.yml and where it came from."""

    config: AlertConfig
    path: Path | None


def _substitute(node: Any, loc: Loc, issues: list[ModelIssue]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string, recording unset variables."""
    if isinstance(node, CommentedMap):
        for key in list(node):
            node[key] = _substitute(node[key], (*loc, str(key)), issues)
        return node
    if isinstance(node, CommentedSeq):
        for index, item in enumerate(node):
            node[index] = _substitute(item, (*loc, index), issues)
        return node
    if not isinstance(node, str) or "${" not in node:
        return node

    def replace(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is not None:
            return value
        if match.group(2) is not None:
            return match.group(2)
        issues.append(
            ModelIssue(loc, f"environment variable {match.group(1)} is not set; export it")
        )
        return ""

    return _VARIABLE.sub(replace, node)


def parse_alert_config(
    text: str, source: str = ALERTS_FILE, model: HealthModel | None = None
) -> AlertConfig:
    """Parse and validate alerts.yml text (checked against `model` when given)."""
    document = read_yaml_mapping(
        text, source, AlertError, "alerts.yml is a mapping with at least `rules:` (docs/alerts.md)"
    )
    issues: list[ModelIssue] = []
    _substitute(document, (), issues)
    if issues:
        raise AlertError(located_messages(source, document, issues))
    try:
        config = AlertConfig.model_validate(plain_yaml(document))
    except ValidationError as exc:
        raise AlertError(validation_messages(source, document, exc, tag_to_type=True)) from exc
    issues = check_alert_config(config, model)
    if issues:
        raise AlertError(located_messages(source, document, issues))
    return config


def load_alert_config(path: str | Path, model: HealthModel | None = None) -> LoadedAlertConfig:
    """Load and validate the alerts file at `path`.

    >>> load_alert_config("acme/alerts.yml", ws.load_model().spec).config.rules  # doctest: +SKIP
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise AlertError(
            f"{path}: no alerts file; create one with `vitalsign alerts init` (docs/alerts.md)"
        ) from exc
    return LoadedAlertConfig(parse_alert_config(text, str(path), model), path)


def _scored_signals(groups: dict[str, Group]) -> set[str]:
    found: set[str] = set()
    for group in groups.values():
        found |= set(group.signals) | _scored_signals(group.groups)
    return found


def check_alert_config(config: AlertConfig, model: HealthModel | None) -> list[ModelIssue]:
    """Return every cross-reference problem: playbooks, channels, and names in the model."""
    issues: list[ModelIssue] = []
    configured = set(config.channels.names)
    for index, channel in enumerate(config.digest.channels or []):
        if channel not in configured:
            issues.append(
                ModelIssue(("digest", "channels", index), f"channel {channel} is not configured")
            )
    for name, playbook in config.playbooks.items():
        texts: list[tuple[Loc, str]] = [(("playbooks", name, "title"), playbook.title)]
        texts += [(("playbooks", name, "steps", i), s) for i, s in enumerate(playbook.steps)]
        for where, text in texts:
            problem = template_problems(text)
            if problem:
                issues.append(ModelIssue(where, problem))
    for name, rule in config.rules.items():
        loc: Loc = ("rules", name)
        if rule.playbook is not None and rule.playbook not in config.playbooks:
            known = ", ".join(config.playbooks) or "none defined"
            issues.append(
                ModelIssue((*loc, "playbook"), f"unknown playbook {rule.playbook!r} ({known})")
            )
        if rule.playbook is not None and getattr(rule, "reminder", False):
            issues.append(
                ModelIssue(
                    (*loc, "playbook"),
                    f"a reminder rule ({rule.type} gives one digest line per owner) opens no "
                    "alert and so no task: remove `playbook`, or add `reminder: false` for an "
                    "alert and a task per account",
                )
            )
        for index, channel in enumerate(rule.channels or []):
            if channel not in configured:
                issues.append(
                    ModelIssue(
                        (*loc, "channels", index),
                        f"channel {channel} is not configured under `channels:`",
                    )
                )
        if isinstance(rule, DataStale):
            table = CANONICAL_TABLES.get(rule.table)
            if table is None or rule.table == "accounts" or "account_id" not in table.column_names:
                usable = [
                    t
                    for t, spec in CANONICAL_TABLES.items()
                    if t != "accounts" and "account_id" in spec.column_names
                ]
                issues.append(
                    ModelIssue((*loc, "table"), f"use one of {', '.join(sorted(usable))}")
                )
        if model is not None:
            issues += _check_against_model(loc, rule, model)
    return issues


def _check_against_model(loc: Loc, rule: Any, model: HealthModel) -> list[ModelIssue]:
    issues: list[ModelIssue] = []
    bands = [*model.band_names, model.insufficient_band]
    if isinstance(rule, BandEntered | BandLeft | CommercialDisagreement):
        for index, band in enumerate(rule.bands or []):
            if band not in bands:
                issues.append(
                    ModelIssue(
                        (*loc, "bands", index),
                        f"model {model.name!r} has no band {band!r} ({', '.join(bands)})",
                    )
                )
    if isinstance(rule, SignalThreshold | SignalChange):
        scored: set[str] = set()
        for groups in model.scorecards.values():
            scored |= _scored_signals(groups)
        if rule.signal not in scored:
            issues.append(
                ModelIssue(
                    (*loc, "signal"),
                    f"model {model.name!r} scores no signal {rule.signal!r}; alerts read the "
                    f"signals of the scorecards ({', '.join(sorted(scored))})",
                )
            )
    if isinstance(rule, FlagRaised):
        for index, flag in enumerate(rule.flags):
            if flag not in model.flags:
                issues.append(
                    ModelIssue(
                        (*loc, "flags", index),
                        f"model {model.name!r} has no flag {flag!r} "
                        f"({', '.join(model.flags) or 'none'})",
                    )
                )
    if isinstance(rule, GateFailed) and model.gate is None:
        issues.append(ModelIssue((*loc, "type"), f"model {model.name!r} has no `gate`"))
    if isinstance(rule, ExpansionCandidate) and model.expansion is None:
        issues.append(
            ModelIssue(
                (*loc, "type"),
                f"model {model.name!r} has no `expansion:` score; add one "
                "(docs/model.md#expansion-the-second-score-kind) or remove this rule",
            )
        )
    return issues
