"""A second process waits for the workspace file instead of failing at once (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vitalsign.errors import WorkspaceError
from vitalsign.store.workspace import init_workspace, lock_wait_seconds, open_workspace

HOLD = """
import sys, time
import vitalsign as vs
ws = vs.open_workspace(sys.argv[1])
ws.duckdb.execute("INSERT INTO accounts (account_id, name, created_at) VALUES ('held', 'H', now())")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
ws.close()
"""


def _holder(root: Path, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "holding"
    return process


def test_a_second_process_waits_for_the_first_and_then_sees_its_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_workspace(tmp_path / "ws").close()
    holder = _holder(tmp_path / "ws", 2.0)
    monkeypatch.setenv("VITALSIGN_LOCK_WAIT", "60")
    started = time.monotonic()
    workspace = open_workspace(tmp_path / "ws")
    row = workspace.duckdb.execute("SELECT name FROM accounts WHERE account_id = 'held'")
    waited = time.monotonic() - started
    assert row.fetchone() == ("H",)
    workspace.close()
    assert holder.wait(timeout=30) == 0
    assert 0.5 < waited < 60


def test_a_second_process_is_told_who_holds_the_file_after_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_workspace(tmp_path / "ws").close()
    holder = _holder(tmp_path / "ws", 20.0)
    monkeypatch.setenv("VITALSIGN_LOCK_WAIT", "0.5")
    try:
        started = time.monotonic()
        with pytest.raises(WorkspaceError) as caught:
            open_workspace(tmp_path / "ws").duckdb  # noqa: B018 (connects)
        waited = time.monotonic() - started
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    message = str(caught.value)
    assert "another process has the workspace open" in message
    assert f"process {holder.pid}" in message
    assert "kept it for 0.5 s" in message
    assert "VITALSIGN_LOCK_WAIT" in message
    assert waited >= 0.5


def test_a_lock_wait_that_is_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITALSIGN_LOCK_WAIT", "a minute")
    with pytest.raises(WorkspaceError, match="VITALSIGN_LOCK_WAIT='a minute' is not a number"):
        lock_wait_seconds()
    monkeypatch.setenv("VITALSIGN_LOCK_WAIT", "-3")
    assert lock_wait_seconds() == 0.0
