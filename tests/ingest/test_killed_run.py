"""A run killed midway (SIGKILL just before its commit) leaves every table as it was."""

from __future__ import annotations

import sys
from pathlib import Path

from ingest_support import add_account, count

from killing import kill_at_commit
from vitalsign.ingest.files import load_file
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
    command = [sys.executable, "-c", LOAD, str(tmp_path / "ws"), str(source)]
    kill_at_commit(command, tmp_path / "holding")
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
