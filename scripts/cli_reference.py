"""Generate docs/cli.md from the real CLI definitions (`python scripts/cli_reference.py`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer.main

from vitalsign.cli import app

DOC = Path(__file__).parents[1] / "docs" / "cli.md"


def _row(param: Any) -> tuple[str, str, str] | None:
    if param.param_type_name == "argument":
        return (f"`{param.name.upper()}`", "argument", param.help or "")
    if "--help" in param.opts:
        return None
    default = param.default
    shown = "" if default in (None, False) or param.required else f" (default: `{default}`)"
    opts = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    return (opts, "required" if param.required else "option", f"{param.help or ''}{shown}")


def render() -> str:
    """Return the CLI reference as Markdown, one section per command."""
    group: Any = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from the command definitions by `python scripts/cli_reference.py`;",
        "`tests/test_docs.py` fails when this page and the CLI disagree.",
        "",
        "Commands that read a workspace take `--workspace/-w DIR` (or `VITALSIGN_WORKSPACE`).",
        "A mistake prints one line starting with `error:` and exits with code 1.",
        "",
        "## Output files",
        "",
        "Every option that writes a file (`backtest --html`, `calibrate --output/-o`) and the",
        "folders of `init` and `demo` go through one check (`vitalsign.store.output_paths`):",
        "",
        "- a relative path is relative to the current folder, not to the workspace; the",
        "  command prints the absolute path it wrote (with `--json`, in the JSON);",
        "- never written, even with `--force`: a folder, any DuckDB database (whatever its",
        "  name) or its `.wal`, the workspace's database, `vitalsign.yml`, `alerts.yml`",
        "  and, unless the command writes a model, the workspace's model files",
        "  (`models/*.yml`);",
        "- an existing file is replaced only by output of the same kind (an HTML page by an HTML",
        "  report, an earlier proposal by a proposal); anything else needs `--force`;",
        "- `demo` deletes and rebuilds only a folder that an earlier `demo` built (else",
        "  `--force`); `init` never replaces a file and keeps the files already in the folder.",
        "",
    ]
    for name, command in group.commands.items():
        lines += _section(f"vitalsign {name}", command, "##")
    return "\n".join(lines)


def _section(title: str, command: Any, level: str) -> list[str]:
    """Return the Markdown of one command, and of its sub-commands one level deeper."""
    lines = [f"{level} {title}", "", (command.help or "").strip(), ""]
    rows = [r for r in (_row(p) for p in command.params) if r is not None]
    if rows:
        lines += ["| parameter | kind | meaning |", "| --- | --- | --- |"]
        lines += [f"| {a} | {k} | {h} |" for a, k, h in rows]
        lines.append("")
    for name, sub in getattr(command, "commands", {}).items():
        lines += _section(f"{title} {name}", sub, level + "#")
    return lines


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
