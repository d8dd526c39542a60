"""`vitalsign serve --schedule`: the daily job runs inside the server, which holds the database."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from apscheduler.triggers.date import DateTrigger
from typer.testing import CliRunner

from conftest import ServedApp, free_port
from vitalsign.alerts.job_commands import daily_jobs, describe_schedule
from vitalsign.alerts.scheduler import build_scheduler, next_fire_times, parse_cron
from vitalsign.cli import app
from vitalsign.errors import VitalsignError
from vitalsign.store.workspace import init_workspace, open_workspace
from vitalsign.web import create_app
from world import load_tiny_world


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "vitalsign serve did not start"
            time.sleep(0.2)


def test_a_command_run_while_the_server_holds_the_workspace_runs_in_the_server(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    workspace = init_workspace(root)
    load_tiny_world(workspace.duckdb)
    workspace.close()
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    server = subprocess.Popen(
        [sys.executable, "-m", "vitalsign", "serve", "-w", str(root), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(port, server)
        run = subprocess.run(
            [sys.executable, "-m", "vitalsign", "run", "-w", str(root), "--no-sync"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        # A program that opens the file itself (not the CLI) waits, then is told who holds it.
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import vitalsign as vs; vs.open_workspace({str(root)!r}).duckdb",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, "VITALSIGN_LOCK_WAIT": "1"},
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"vitalsign run {dt.date.today()}" in run.stdout  # the server's output, here
    reopened = open_workspace(root)
    scored = reopened.duckdb.execute(
        "SELECT count(*) FROM scores WHERE snapshot_date = ?", [dt.date.today()]
    ).fetchone()[0]
    reopened.close()
    assert scored > 0
    message = " ".join((other.stdout + other.stderr).split())
    assert other.returncode != 0
    assert "another process has the workspace open" in message
    assert f"process {server.pid}" in message
    assert "kept it for 1 s" in message


def test_the_daily_job_scheduled_in_the_server_scores_while_it_serves(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    load_tiny_world(workspace.duckdb)
    today = dt.date.today()
    daily, _ = daily_jobs(workspace.root, sync=False, model=None)
    scheduler = build_scheduler(
        DateTrigger(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)),
        daily,
        background=True,
    )
    with ServedApp(create_app(workspace)) as served:
        scheduler.start()
        try:
            deadline = time.monotonic() + 90
            stored = 0
            while stored == 0:
                assert time.monotonic() < deadline, "the scheduled daily job did not score"
                time.sleep(0.5)
                row = workspace.duckdb.cursor().execute(
                    "SELECT count(*) FROM scores WHERE snapshot_date = ?", [today]
                )
                stored = row.fetchone()[0]
            login = httpx.get(f"{served.url}/login", timeout=5)
        finally:
            scheduler.shutdown(wait=True)
    active = workspace.duckdb.execute(
        "SELECT count(*) FROM accounts WHERE churned_at IS NULL OR churned_at >= ?", [today]
    ).fetchone()[0]
    assert stored == active > 0
    assert login.status_code == 200
    workspace.close()


def test_a_wrong_schedule_is_refused_before_the_server_starts(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    result = CliRunner().invoke(app, ["serve", "-w", str(root), "--schedule", "every morning"])
    assert result.exit_code != 0
    assert isinstance(result.exception, VitalsignError)
    assert str(result.exception).startswith('--schedule "every morning": use five fields')


def test_a_six_field_schedule_counts_seconds_and_a_five_field_one_whole_minutes() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 3, tzinfo=dt.UTC)
    tenths = next_fire_times(parse_cron("*/10 * * * * *", "UTC", "--schedule"), 3, now)
    assert [t.second for t in tenths] == [10, 20, 30] and tenths[0].minute == 0
    assert next_fire_times(parse_cron("* * * * *", "UTC"), 1, now)[0] == now.replace(
        minute=1, second=0
    )
    said = describe_schedule("*/10 * * * * *", parse_cron("*/10 * * * * *"))
    assert re.search(r"next runs: \S+ \d\d:\d\d:\d0 ", said), said  # to the second
    with pytest.raises(VitalsignError, match="or six, seconds first"):
        parse_cron("* * * * * * *", "UTC", "--schedule")
    with pytest.raises(VitalsignError, match='--schedule "61 0 6 \\* \\* \\*"'):
        parse_cron("61 0 6 * * *", "UTC", "--schedule")


def test_timezone_without_a_schedule_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    result = CliRunner().invoke(app, ["serve", "-w", str(root), "--timezone", "Europe/Paris"])
    assert isinstance(result.exception, VitalsignError)
    assert "go with --schedule" in str(result.exception)


def test_the_server_starts_with_a_broken_model_file(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    workspace.model_path.write_text("name: broken\nsignals: [not, a, mapping]\n")
    with ServedApp(create_app(workspace)) as served:
        login = httpx.get(f"{served.url}/login", timeout=5)
    assert login.status_code == 200
    workspace.close()
