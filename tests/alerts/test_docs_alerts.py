"""docs/alerts.md keeps up with the code: every alerts.yml key, rule type and command."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import typer.main
from pydantic import BaseModel

from vitalsign.alerts.commands import alerts_app
from vitalsign.alerts.config import RULE_TYPES, AlertConfig
from vitalsign.alerts.loading import parse_alert_config
from vitalsign.alerts.task_commands import tasks_app
from vitalsign.model.loader import load_model
from vitalsign.store.workspace import Workspace

DOC = Path(__file__).parents[2] / "docs" / "alerts.md"
MARKER = "<!-- alerts-example -->"


def _models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [AlertConfig, *RULE_TYPES]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            todo += [
                arg
                for arg in (field.annotation, *_args(field.annotation))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ]
    return seen


def _args(annotation: object) -> list[object]:
    found: list[object] = []
    for arg in typing.get_args(annotation):
        found += [arg, *_args(arg)]
    return found


def _documented() -> set[str]:
    return {s.strip() for s in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", DOC.read_text("utf-8"))}


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_alerts_key_is_documented(model: type[BaseModel]) -> None:
    documented = _documented()
    keys = [field.alias or name for name, field in model.model_fields.items()]
    missing = [key for key in keys if key not in documented]
    assert not missing, f"docs/alerts.md does not mention {model.__name__} keys {missing}"


def test_every_rule_type_has_its_own_section() -> None:
    headings = set(re.findall(r"^### `([a-z_]+)`$", DOC.read_text("utf-8"), flags=re.MULTILINE))
    types = {typing.get_args(t.model_fields["type"].annotation)[0] for t in RULE_TYPES}
    assert types <= headings, f"no section for {sorted(types - headings)}"
    assert len(types) == 12


def test_every_alerts_and_tasks_command_is_documented() -> None:
    text = DOC.read_text("utf-8")
    for prefix, sub in (("alerts", alerts_app), ("tasks", tasks_app)):
        group = typer.main.get_command(sub)
        assert isinstance(group, typer.core.TyperGroup)
        for name in group.commands:
            assert f"vitalsign {prefix} {name}" in text, f"vitalsign {prefix} {name}"


def test_the_documented_example_is_valid_for_the_starter_model(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SMTP_USERNAME", "SMTP_PASSWORD", "SLACK_WEBHOOK_URL"):
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.delenv("VITALSIGN_WEBHOOK_SECRET", raising=False)
    lines = DOC.read_text("utf-8").splitlines()
    start = lines.index(MARKER) + 2
    end = lines.index("```", start)
    config = parse_alert_config(
        "\n".join(lines[start:end]), "docs/alerts.md", load_model(workspace.model_path).spec
    )
    assert len(config.rules) == 12
    assert {r.type for r in config.rules.values()} == {
        typing.get_args(t.model_fields["type"].annotation)[0] for t in RULE_TYPES
    }
    assert config.channels.webhook is not None
    assert config.channels.webhook.secret == "change-me-to-a-long-secret"


def test_the_docs_do_not_say_a_first_evaluation_alerts_everyone_unless_baseline_is_off() -> None:
    text = " ".join(DOC.read_text("utf-8").split())
    for claim in re.finditer(r"first evaluation[^.]*opens an alert for every account", text):
        before = text[max(0, claim.start() - 80) : claim.start()]
        assert "baseline: false" in before, f"contradicts the baseline section: {claim.group()}"
