"""A run killed midway (SIGKILL just before its commit) leaves every table as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingest_support import add_account, count

from vitalsign.ingest.files import load_file
from vitalsign.ingest.runs import HOLD_BEFORE_COMMIT
from vitalsign.store.workspace import init_workspace, open_workspace

LOAD = (
    "import sys; from vitalsign.ingest.files import load_file; "
    "from vitalsign.store.workspace import open_workspace; "
    "load_file(open_workspace(sys.argv[1]), sys.argv[2], 'events')"
)


def test_a_run_killed_before_its_commit_changes_nothing_and_a_rerun_loads_it(
    tmp_path: Path,
) -> None:
    ws = init_workspace(tmp_path / "ws")
    add_account(ws, "a1")
    ws.close()
    source = tmp_path / "events.csv"
    rows = [f"e{i},a{1 + i % 2},2024-01-01,login" for i in range(2000)]
    source.write_text("event_id,account_id,timestamp,event\n" + "\n".join(rows) + "\n")
    marker = tmp_path / "holding"
    command = [sys.executable, "-c", LOAD, str(tmp_path / "ws"), str(source)]
    env = {**os.environ, HOLD_BEFORE_COMMIT: str(marker)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never reached its commit"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    ws = open_workspace(tmp_path / "ws")
    assert count(ws, "SELECT count(*) FROM events") == 0
    assert count(ws, "SELECT count(*) FROM quarantine") == 0
    assert count(ws, "SELECT count(*) FROM ingest_runs") == 0
    report = load_file(ws, source, "events")
    assert (report.read, report.loaded, report.unchanged, report.quarantined) == (
        2000,
        1000,
        0,
        1000,
    )
    ws.close()
