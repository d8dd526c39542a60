"""docs/backtest.md explains every option of the analytics commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from vitalsign.cli import app

DOC = Path(__file__).parents[2] / "docs" / "backtest.md"
COMMANDS = ("backtest", "calibrate", "diff", "outcomes")
COMMON = {"--workspace", "--help"}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_of_the_command_is_explained(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    text = DOC.read_text(encoding="utf-8")
    missing = sorted(o for o in options - COMMON if f"`{o}" not in text and f" {o}" not in text)
    assert not missing, f"docs/backtest.md does not mention {name} options {missing}"
