"""`vitalsign run` and `sync` relayed into a real `vitalsign serve` run as its jobs (issue 12.1).

One `vitalsign serve` process per module, on the small admin world (two accounts, a declared
source): a `vitalsign run` typed in a terminal (a real process) is recorded in job_runs with
trigger cli and keeps its output and exit code; one sent (by the client code of
web/relay.py, from the test process) while the browser's "run now" runs
waits for it, says so, and the two runs never overlap; a failing `sync` is recorded failed
with its error; the server's stdout has one line per finished run.
"""

from __future__ import annotations

import io
import itertools
import os
import pwd
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from admin_world import ACCOUNTS, DESK, SOURCES
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PASSWORD, free_port
from vitalsign.ingest.files import load_file
from vitalsign.store.workspace import init_workspace
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "120"}
OS_USER = pwd.getpwuid(os.getuid()).pw_name


@dataclass
class Server:
    """A `vitalsign serve` process, its workspace, its log and the admin's token."""

    root: Path
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self) -> httpx.Client:
        """An API client acting as the admin."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def runs(self) -> list[dict[str, Any]]:
        """Every run in job_runs, oldest first."""
        with self.api() as api:
            reply = api.get("/api/v1/admin/jobs", params={"per_page": 100})
        assert reply.status_code == 200, reply.text
        return list(reversed(reply.json()["runs"]))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `vitalsign ARGS -w ROOT` as a process of its own."""
        command = [sys.executable, "-m", "vitalsign", *args, "-w", str(self.root)]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=ENV)

    def wait_idle(self) -> None:
        """Wait until no run is `running`."""
        deadline = time.monotonic() + 120
        while any(r["status"] == "running" for r in self.runs()):
            assert time.monotonic() < deadline, "a job did not end"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The admin world's workspace served by a real `vitalsign serve` (no schedule)."""
    root = tmp_path_factory.mktemp("relay_jobs") / "ws"
    workspace = init_workspace(root)
    config = root / "vitalsign.yml"
    config.write_text(config.read_text() + SOURCES)
    (root / "accounts.csv").write_text(ACCOUNTS)
    (root / "desk.csv").write_text(DESK)
    mapping = {"account_id": "Id", "name": "Name", "owner": "Owner", "created_at": "Since"}
    load_file(workspace, root / "accounts.csv", "accounts", mapping)
    add_user(workspace.duckdb, "root", "admin", PASSWORD, None, actor="test")
    token = create_token(workspace.duckdb, "root", "tests", actor="test")[1]
    workspace.close()
    port = free_port()
    log = root.parent / "serve.log"
    command = [sys.executable, "-m", "vitalsign", "serve", "-w", str(root), "--port", str(port)]
    with log.open("wb") as sink:  # warning: no access log, yet the job lines are printed
        process = subprocess.Popen(
            [*command, "--log-level", "warning"], env=ENV, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()
        try:
            httpx.get(f"{url}/login", timeout=2)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "vitalsign serve did not start"
            time.sleep(0.2)
    yield Server(root, url, token, process, log)
    process.terminate()
    process.wait(timeout=30)


def _log_lines(server: Server, pattern: str) -> list[str]:
    """The lines of the server's log that match `pattern`, after the lines have been written."""
    deadline = time.monotonic() + 10
    while True:
        found = [line for line in server.log.read_text().splitlines() if re.search(pattern, line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_relayed_run_is_recorded_as_a_cli_job_and_keeps_its_output(server: Server) -> None:
    before = len(server.runs())
    done = server.cli("run", "--no-sync")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "score" in done.stdout and "vitalsign run" in done.stdout  # its usual table
    runs = server.runs()
    assert len(runs) == before + 1, runs
    run = runs[-1]
    assert (run["job"], run["trigger"], run["started_by"]) == ("daily", "cli", OS_USER)
    assert run["status"] == "ok" and run["error"] is None, run
    assert run["duration_seconds"] is not None and run["finished_at"] >= run["started_at"]
    assert run["detail"].startswith("vitalsign run --no-sync\n"), run["detail"]
    assert "sync skipped" in run["detail"] and "│" not in run["detail"], run["detail"]
    assert str(server.root) not in run["detail"]  # the workspace option is left out
    lines = _log_lines(server, rf"job daily \(cli, by {re.escape(OS_USER)}\) ok in \d+\.\d s")
    assert len(lines) == 1, server.log.read_text()


def test_a_relayed_run_waits_for_the_browsers_run_now_and_never_overlaps(
    server: Server,
) -> None:
    from vitalsign.web.relay import forward_if_served

    server.wait_idle()
    earlier = {r["run_id"] for r in server.runs()}  # times are to the second: ids tell apart
    with server.api() as api:
        started = api.post("/api/v1/admin/jobs/daily/run")
    assert started.status_code == 202, started.text  # the web run is current from here on
    out, err = io.StringIO(), io.StringIO()
    code = forward_if_served(["run", "--no-sync", "-w", str(server.root)], out, err)
    assert code == 0, out.getvalue() + err.getvalue()
    said = " ".join(err.getvalue().split())
    assert re.search(
        r"`vitalsign run` waits for the daily job, started \S+ UTC by root \(web\)", said
    )
    assert "vitalsign run" in out.getvalue()  # then ran, printing as usual
    runs = {r["run_id"]: r for r in server.runs()}
    web = runs[started.json()["run_id"]]
    cli = [r for r in runs.values() if r["trigger"] == "cli" and r["run_id"] not in earlier]
    assert len(cli) == 1, list(runs.values())
    assert web["status"] == cli[0]["status"] == "ok", (web, cli)
    assert web["finished_at"] <= cli[0]["started_at"], (web, cli)  # one after the other
    spans = sorted((r["started_at"], r["finished_at"]) for r in runs.values())
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, spans  # no two runs of the server ever overlapped
    assert _log_lines(server, r"job daily \(web, by root\) ok in"), server.log.read_text()


def test_a_failing_relayed_sync_is_recorded_failed_with_its_error(server: Server) -> None:
    from vitalsign.web.relay import forward_if_served

    server.wait_idle()
    desk = server.root / "desk.csv"
    desk.rename(server.root / "desk.away")
    out, err = io.StringIO(), io.StringIO()
    try:
        code = forward_if_served(["sync", "-w", str(server.root)], out, err)
    finally:
        (server.root / "desk.away").rename(desk)
    assert code == 1, out.getvalue() + err.getvalue()  # the command's exit code
    run = server.runs()[-1]
    assert (run["job"], run["trigger"], run["status"]) == ("sync", "cli", "failed"), run
    assert run["error"].startswith("exit code 1"), run
    assert "desk" in run["detail"] and "desk" in out.getvalue(), run["detail"]
    lines = _log_lines(server, r"job sync \(cli, by .+\) failed in \d+\.\d s: exit code 1")
    assert len(lines) == 1, server.log.read_text()
    again = forward_if_served(["sync", "-w", str(server.root)], io.StringIO(), io.StringIO())
    assert again == 0  # the file is back: the runner took the next job, and it is ok
    assert server.runs()[-1]["status"] == "ok"


def test_a_commands_output_is_kept_as_lines_without_the_table_borders() -> None:
    from rich.console import Console
    from rich.table import Table

    from vitalsign.web.relay_output import job_outcome

    printed = io.StringIO()
    table = Table("step", "status", "detail", title="vitalsign run 2026-12-03")
    table.add_row("sync", "skipped", "--no-sync")
    table.add_row("score", "ok", "two accounts scored " + "and a detail that wraps " * 4)
    Console(file=printed, width=60).print(table)
    ok, detail, error = job_outcome(["run", "--no-sync", "-w", "/ws"], 0, printed.getvalue(), "")
    assert ok and error is None
    lines = detail.splitlines()
    assert lines[:4] == [
        "vitalsign run --no-sync",
        "vitalsign run 2026-12-03",
        "step status detail",
        "sync skipped --no-sync",
    ]
    assert lines[4] == "score ok two accounts scored " + " ".join(["and a detail that wraps"] * 4)
    failed = job_outcome(["sync"], 2, "", "error: the file is gone\n")
    assert failed == (False, "vitalsign sync", "exit code 2: error: the file is gone")


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-.", min_size=1, max_size=8)
CELL = st.lists(WORD, max_size=6).map(" ".join)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(WORD, CELL, CELL), min_size=1, max_size=5),
    width=st.integers(min_value=50, max_value=120),
)
def test_a_printed_table_keeps_each_row_once_with_its_words_in_order(
    rows: list[tuple[str, str, str]], width: int
) -> None:
    from rich.console import Console
    from rich.table import Table

    from vitalsign.web.relay_output import plain_output

    printed = io.StringIO()
    table = Table("step", "status", "detail", title="the title")
    for row in rows:
        table.add_row(*row)
    Console(file=printed, width=width).print(table)
    lines = plain_output(printed.getvalue()).splitlines()
    assert lines[:2] == ["the title", "step status detail"]
    assert lines[2:] == [" ".join(" ".join(row).split()) for row in rows]
