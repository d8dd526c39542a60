"""Admin jobs benchmark: do the pages keep answering while "Run now" runs the daily job?

Builds the demo workspace of N accounts (`vitalsign demo`), starts `vitalsign serve` in a
subprocess, signs in 4 clients that load random account pages, and measures their latency
idle for `--seconds`, then while the daily job runs after `POST /api/v1/admin/jobs/daily/run`
(until the job ends). Also checks that a second "run now" during the job answers 409.
Prints the median and p99 of each phase, their ratio, and the job's duration.

    .venv/bin/python bench/admin_jobs.py                      # 1,000 accounts, 8 weeks
    .venv/bin/python bench/admin_jobs.py --accounts 300 --weeks 4
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from rich.console import Console

PASSWORD = "bench password 1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _build(root: Path, accounts: int, weeks: int) -> tuple[list[str], str]:
    """The demo workspace, an admin and their token; the account ids."""
    from vitalsign.demo.build import build_demo
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.tokens import create_token
    from vitalsign.web.users import add_user

    build_demo(root, accounts=accounts, weeks=weeks, console=Console(file=io.StringIO()))
    workspace = open_workspace(root)
    add_user(workspace.duckdb, "bench", "admin", PASSWORD, None, actor="bench")
    token = create_token(workspace.duckdb, "bench", "bench", actor="bench")[1]
    ids = [
        r[0]
        for r in workspace.duckdb.execute(
            "SELECT account_id FROM scores WHERE snapshot_date = (SELECT max(snapshot_date) "
            "FROM scores)"
        ).fetchall()
    ]
    workspace.duckdb.execute("CHECKPOINT")
    workspace.close()
    return ids, token


def _session(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    client.get("/login")
    reply = client.post(
        "/login",
        data={
            "username": "bench",
            "password": PASSWORD,
            "csrf_token": client.cookies["vitalsign_login_csrf"],
        },
    )
    assert reply.status_code == 303, reply.text
    return client


def _load(url: str, ids: list[str], stop: threading.Event, out: list[float]) -> None:
    """Load random account pages until `stop`, appending each latency (ms)."""
    client = _session(url)
    rng = random.Random()
    while not stop.is_set():
        started = time.perf_counter()
        reply = client.get(f"/accounts/{rng.choice(ids)}")
        if reply.status_code != 200:
            raise RuntimeError(f"account page answered {reply.status_code}")
        out.append((time.perf_counter() - started) * 1000)
    client.close()


def _phase(url: str, ids: list[str], until: object) -> list[float]:
    """Run 4 clients until `until()` is true; return the latencies."""
    stop = threading.Event()
    latencies: list[float] = []
    threads = [threading.Thread(target=_load, args=(url, ids, stop, latencies)) for _ in range(4)]
    for thread in threads:
        thread.start()
    while not until():  # type: ignore[operator]
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    return latencies


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "median_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Build, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="Length of the idle phase.")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="vs-admin-jobs-")) / "ws"
    ids, token = _build(root, args.accounts, args.weeks)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "vitalsign", "serve", "-w", str(root), "--port", str(port)],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "vitalsign serve did not start"
                time.sleep(0.2)
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        _session(url).get(f"/accounts/{ids[0]}")  # the serving cache is built on first use
        end = time.monotonic() + args.seconds
        idle = _phase(url, ids, lambda: time.monotonic() >= end)
        started = api.post("/api/v1/admin/jobs/daily/run")
        assert started.status_code == 202, started.text
        second = api.post("/api/v1/admin/jobs/daily/run").status_code

        def job_ended() -> bool:
            return api.get("/api/v1/admin/jobs").json()["running"] is None

        during = _phase(url, ids, job_ended)
        run = api.get("/api/v1/admin/jobs").json()["runs"][0]
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "accounts": args.accounts,
        "weeks": args.weeks,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "idle": _summary(idle),
        "during_job": _summary(during),
        "job": {k: run[k] for k in ("status", "duration_seconds", "error")},
        "second_run_now_status": second,
    }
    result["p99_ratio"] = round(result["during_job"]["p99_ms"] / result["idle"]["p99_ms"], 2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
