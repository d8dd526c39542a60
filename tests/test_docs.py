"""The docs keep up with the code: every model key, aggregation, function and table column."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from vitalsign.model import parse_model
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.expressions import FUNCTIONS
from vitalsign.model.spec import AGGREGATIONS, HealthModel

DOCS = Path(__file__).parents[1] / "docs"
MODEL_DOC = DOCS / "model.md"
TABLES_DOC = DOCS / "tables.md"
EXAMPLE_MARKER = "<!-- worked-example -->"


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    """Return the Pydantic models inside a type annotation (unions, lists, dicts, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _nested_models(arg)
    return found


def _schema_models() -> list[type[BaseModel]]:
    """Return HealthModel and every model reachable from its fields, each once."""
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [HealthModel]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            todo += _nested_models(field.annotation)
    return seen


def _backticked(text: str) -> set[str]:
    """Return every `code span` of a markdown text, trimmed."""
    return {span.strip() for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text)}


def _sections(text: str) -> dict[str, str]:
    """Return the text under each `## heading`, by heading (backticks removed)."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {
        heading.strip().strip("`"): body
        for heading, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def _worked_example(text: str) -> str:
    """Return the fenced yaml block that follows the worked-example marker line."""
    lines = text.splitlines()
    markers = [i for i, line in enumerate(lines) if line.strip() == EXAMPLE_MARKER]
    assert len(markers) == 1, f"docs/model.md needs exactly one line {EXAMPLE_MARKER}"
    rest = lines[markers[0] + 1 :]
    start = next(i for i, line in enumerate(rest) if line.strip())
    assert rest[start].strip() == "```yaml", "the marker must be followed by a ```yaml block"
    end = next(i for i in range(start + 1, len(rest)) if rest[i].strip() == "```")
    return "\n".join(rest[start + 1 : end]) + "\n"


def test_the_schema_walk_reaches_every_nested_model() -> None:
    names = {model.__name__ for model in _schema_models()}
    assert {
        "HealthModel",
        "Signal",
        "Group",
        "ThresholdsScale",
        "ThresholdStep",
        "LinearScale",
        "PercentileScale",
        "BooleanScale",
        "CategoricalScale",
        "Segment",
        "Gate",
        "Flag",
        "Band",
        "Overrides",
    } <= names


@pytest.mark.parametrize("model", _schema_models(), ids=lambda model: model.__name__)
def test_every_model_key_is_documented(model: type[BaseModel]) -> None:
    documented = _backticked(MODEL_DOC.read_text(encoding="utf-8"))
    missing = [name for name in model.model_fields if name not in documented]
    assert not missing, f"docs/model.md does not mention {model.__name__} keys {missing}"


def test_every_aggregation_is_documented() -> None:
    documented = _backticked(MODEL_DOC.read_text(encoding="utf-8"))
    missing = [name for name in AGGREGATIONS if name not in documented]
    assert not missing, f"docs/model.md does not mention aggregations {missing}"


def test_every_expression_function_is_documented() -> None:
    documented = _backticked(MODEL_DOC.read_text(encoding="utf-8"))
    missing = [name for name in FUNCTIONS if name not in documented]
    assert not missing, f"docs/model.md does not mention functions {missing}"


def test_every_canonical_table_has_a_heading() -> None:
    sections = _sections(TABLES_DOC.read_text(encoding="utf-8"))
    missing = [name for name in CANONICAL_TABLES if name not in sections]
    assert not missing, f"docs/tables.md has no `## <table>` heading for {missing}"


@pytest.mark.parametrize("table", list(CANONICAL_TABLES))
def test_every_column_is_documented_under_its_table(table: str) -> None:
    section = _sections(TABLES_DOC.read_text(encoding="utf-8")).get(table, "")
    documented = _backticked(section)
    missing = [name for name in CANONICAL_TABLES[table].column_names if name not in documented]
    assert not missing, f"docs/tables.md does not mention columns {missing} under {table}"


def test_the_worked_example_model_parses() -> None:
    example = _worked_example(MODEL_DOC.read_text(encoding="utf-8"))
    loaded = parse_model(example, "docs/model.md (worked example)")
    assert loaded.spec.gate is not None
    assert loaded.spec.flags


def test_the_cli_reference_is_generated_from_the_current_cli() -> None:
    import importlib.util

    path = Path(__file__).parents[1] / "scripts" / "cli_reference.py"
    spec = importlib.util.spec_from_file_location("cli_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (MODEL_DOC.parent / "cli.md").read_text(encoding="utf-8")
    assert current == module.render(), "docs/cli.md is stale: run python scripts/cli_reference.py"


def test_the_readme_quickstart_is_exactly_the_two_commands() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = [
        line.split("#")[0].strip() for line in quickstart.splitlines() if line.startswith("make")
    ]
    assert commands == ["make demo", "make test"]
