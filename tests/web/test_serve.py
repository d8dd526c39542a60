"""`vitalsign serve` serves the pages, the REST API and the event API from one process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import ServedApp, free_port
from vitalsign.ingest.write_keys import ensure_write_key
from vitalsign.store.workspace import init_workspace
from vitalsign.web import create_app


def test_one_event_post_works_through_the_web_app(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    key = ensure_write_key(workspace.duckdb)
    event = {
        "type": "track",
        "event": "login",
        "userId": "u-1",
        "messageId": "m-1",
        "timestamp": "2025-06-01T10:00:00Z",
        "context": {"groupId": "acct-1"},
        "properties": {"account_id": "acct-1"},
    }
    with (
        ServedApp(create_app(workspace)) as served,
        httpx.Client(base_url=served.url, auth=(key, ""), timeout=30) as client,
    ):
        reply = client.post("/v1/track", json=event)
        refused = httpx.post(f"{served.url}/v1/track", json=event, auth=("wrong", ""), timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["success"] is True
    assert refused.status_code == 401
    stored = workspace.duckdb.execute(
        "SELECT count(*) FROM event_api_messages WHERE message_id = 'm-1'"
    ).fetchone()
    assert stored == (1,)
    workspace.close()


def test_the_serve_command_starts_a_server_on_127_0_0_1(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    port = free_port()
    command = [sys.executable, "-m", "vitalsign", "serve", "-w", str(root), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "vitalsign serve did not start"
                time.sleep(0.2)
        api = httpx.get(f"http://127.0.0.1:{port}/api/v1/portfolio", timeout=5)
        events = httpx.post(f"http://127.0.0.1:{port}/v1/track", json={}, timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert login.status_code == 200 and "Sign in" in login.text
    assert api.status_code == 401 and api.json()["error"]["code"] == "unauthenticated"
    assert events.status_code == 401
