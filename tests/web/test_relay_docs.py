"""The docs describe the command relay, not the old "stop the server" (trial 12, item 2).

While `vitalsign serve` runs, other commands are run by it (docs/workspace.md); web.md and
api.md once said they could not open the database.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
OLD_CLAIMS = (
    r"cannot open the database",
    r"cannot write while `vitalsign serve`",
    r"For other commands, stop the server",
    r"Progress bars are not drawn through the relay",
)


@pytest.mark.parametrize("name", ["web.md", "api.md", "workspace.md", "cli.md"])
def test_no_doc_says_commands_cannot_run_beside_the_server(name: str) -> None:
    text = " ".join((DOCS / name).read_text(encoding="utf-8").split())
    for claim in OLD_CLAIMS:
        assert not re.search(claim, text), f"docs/{name} still says: {claim}"


def test_web_md_says_commands_go_to_the_server_and_which_never_do() -> None:
    text = " ".join((DOCS / "web.md").read_text(encoding="utf-8").split())
    assert "are handed to the server, which runs them" in text
    assert "`init`, `demo`, `serve` and `schedule` never are" in text
    assert "--as-of DATE" in text  # the demo's scheduled job, and how to score another day
