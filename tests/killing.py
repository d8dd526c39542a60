"""Kill a process at its commit: the crash-safety tests' one way of dying mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from vitalsign.ingest.runs import HOLD_BEFORE_COMMIT


def kill_at_commit(command: list[str], marker: Path, timeout: float = 60.0) -> None:
    """Run `command` until it holds just before COMMIT (it writes `marker`), then SIGKILL it."""
    env = {**os.environ, HOLD_BEFORE_COMMIT: str(marker)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, f"{command} never reached its commit"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
