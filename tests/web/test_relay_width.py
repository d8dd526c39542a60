"""A relayed command prints at its terminal's width and asks a piped password line by line;
a job's detail has no progress bars.

Trial of issue 12, items 8, 10 and 18. The relay's server side (web/relay_server.py) listens on
the workspace's real socket in this process (whose own $COLUMNS is 100) and a real
`vitalsign users list --tokens` process sends its command to it, with its own $COLUMNS.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from conftest import PASSWORD
from vitalsign.store.workspace import init_workspace
from vitalsign.web.relay_output import job_outcome
from vitalsign.web.relay_server import CommandRelay
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user


@pytest.fixture(scope="module")
def relayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A workspace with a user and a long-labelled token, its relay listening."""
    root = tmp_path_factory.mktemp("relay_width") / "ws"
    workspace = init_workspace(root)
    add_user(workspace.duckdb, "dana", "admin", PASSWORD, None, actor="test")
    label = "a label long enough to need a wide terminal"
    token_id = create_token(workspace.duckdb, "dana", label, actor="test")[0]
    workspace.close()
    relay = CommandRelay(root)
    assert relay.start()
    yield root, token_id
    relay.stop()


def _relay(root: Path, columns: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Send `users list --tokens` from a real `vitalsign` process with $COLUMNS=`columns`."""
    monkeypatch.setenv("COLUMNS", "100")  # the server's own width, which must not be used
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": columns}
    command = [sys.executable, "-m", "vitalsign", "users", "list", "--tokens", "-w", str(root)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("columns", [200, 60])
def test_a_relayed_table_is_as_wide_as_the_terminal_that_sent_it(
    relayed: tuple[Path, str], columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, token_id = relayed
    printed = _relay(root, str(columns), monkeypatch)
    widest = max(len(line) for line in printed.splitlines())
    assert widest <= columns, printed
    if columns == 200:
        assert token_id in printed  # whole: `users revoke` needs it
        assert "a label long enough to need a wide terminal" in printed
        assert widest > 80, printed
    else:
        assert widest > 40, printed


def test_a_jobs_detail_leaves_out_progress_bars() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=100)
    with Progress(console=console) as progress:
        task = progress.add_task("Scoring 3 dates", total=3)
        progress.advance(task, 3)
    console.print("Scored 3 dates")
    ok, detail, error = job_outcome(["run", "--no-sync"], 0, stream.getvalue(), "")
    assert "━" in stream.getvalue()  # the bar was printed
    assert (ok, error) == (True, None)
    assert detail == "vitalsign run --no-sync\nScored 3 dates"


def test_a_password_piped_into_a_relayed_users_add_is_asked_line_by_line(
    relayed: tuple[Path, str],
) -> None:
    root, _ = relayed
    env = {**os.environ, "PYTHONWARNINGS": "default", "COLUMNS": "100"}
    env.pop("VITALSIGN_PASSWORD", None)
    command = [sys.executable, "-m", "vitalsign", "users", "add", "zed", "--role", "viewer"]
    done = subprocess.run(
        [*command, "-w", str(root)],
        input="zed pw one two\nzed pw one two\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0].rstrip(":") for line in lines[:2]] == ["Password", "Repeat"], lines
    assert lines[2].startswith("Added zed"), lines  # each on its own line (trial 12.18)
    assert "GetPassWarning" not in done.stderr and "may be echoed" not in done.stderr
