"""The HTTP event API on a real uvicorn server: auth, validation, durability, idempotency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from ingest_support import add_account, count, free_port

from vitalsign.ingest.write_keys import ensure_write_key
from vitalsign.store.workspace import init_workspace, open_workspace


@contextmanager
def event_server(workspace: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run the event API in a uvicorn subprocess on a free port of 127.0.0.1."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "vitalsign.ingest.http_api:app_from_environment",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "VITALSIGN_WORKSPACE": str(workspace)}
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the server exited"
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def _workspace(tmp_path: Path) -> tuple[Path, str]:
    ws = init_workspace(tmp_path / "ws")
    add_account(ws, "acme", domain="acme.com")
    key = ensure_write_key(ws.duckdb)
    ws.close()
    return tmp_path / "ws", key


TRACK = {
    "type": "track",
    "event": "Report Built",
    "userId": "u1",
    "messageId": "m-1",
    "timestamp": "2024-05-01T10:00:00Z",
    "context": {"groupId": "acme"},
    "properties": {"feature": "reports"},
}


def test_a_track_acknowledged_before_a_crash_is_kept_and_a_resend_adds_nothing(
    tmp_path: Path,
) -> None:
    root, key = _workspace(tmp_path)
    with event_server(root) as (process, url):
        reply = httpx.post(f"{url}/v1/track", json=TRACK, auth=(key, ""), timeout=30)
        assert reply.status_code == 200, reply.text
        os.kill(process.pid, signal.SIGKILL)  # right after the 2xx
        process.wait(timeout=30)
    ws = open_workspace(root)
    assert count(ws, "SELECT count(*) FROM events WHERE event_id = 'm-1'") == 1
    assert count(ws, "SELECT count(*) FROM event_api_messages") == 1
    ws.close()
    with event_server(root) as (_, url):
        again = httpx.post(
            f"{url}/v1/track", json=TRACK, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert again.status_code == 200
        assert again.json() | {"received": 1} == {
            "success": True,
            "received": 1,
            "loaded": 0,
            "duplicates": 1,
            "quarantined": 0,
        }
    ws = open_workspace(root)
    assert count(ws, "SELECT count(*) FROM events") == 1
    ws.close()


def test_calls_need_the_write_key_and_a_valid_message(tmp_path: Path) -> None:
    root, key = _workspace(tmp_path)
    with event_server(root) as (_, url):
        assert httpx.post(f"{url}/v1/track", json=TRACK, timeout=30).status_code == 401
        wrong = httpx.post(f"{url}/v1/track", json=TRACK, auth=("nope", ""), timeout=30)
        assert wrong.status_code == 401
        bad = httpx.post(f"{url}/v1/track", json={"userId": "u1"}, auth=(key, ""), timeout=30)
        assert bad.status_code == 400 and "needs event" in bad.text
        batch = {
            "batch": [
                {
                    "type": "group",
                    "groupId": "beta",
                    "traits": {"name": "Beta"},
                    "timestamp": "2024-01-01T00:00:00Z",
                    "messageId": "g-1",
                },
                {
                    "type": "identify",
                    "userId": "u2",
                    "traits": {"email": "kim@acme.com"},
                    "timestamp": "2024-01-02T00:00:00Z",
                    "messageId": "i-1",
                },
                {
                    "type": "track",
                    "event": "Login",
                    "userId": "u2",
                    "messageId": "t-1",
                    "timestamp": "2024-01-03T00:00:00Z",
                },
                {
                    "type": "track",
                    "event": "Login",
                    "userId": "stranger",
                    "messageId": "t-2",
                    "timestamp": "2024-01-03T00:00:00Z",
                },
            ]
        }
        reply = httpx.post(f"{url}/v1/batch", json=batch, auth=(key, ""), timeout=30)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["received"], body["loaded"], body["quarantined"]) == (4, 3, 1)
        identify = httpx.post(
            f"{url}/v1/identify",
            json={"userId": "u3", "traits": {"email": "lee@acme.com"}},
            auth=(key, ""),
            timeout=30,
        )
        group = httpx.post(
            f"{url}/v1/group",
            json={"groupId": "gamma", "traits": {"name": "Gamma"}},
            auth=(key, ""),
            timeout=30,
        )
        assert identify.json()["loaded"] == 1 and group.json()["loaded"] == 1
    ws = open_workspace(root)
    assert count(ws, "SELECT count(*) FROM events WHERE account_id = 'acme'") == 1
    assert count(ws, "SELECT count(*) FROM accounts") == 3
    assert count(ws, "SELECT count(*) FROM quarantine WHERE source = 'event-api'") == 1
    ws.close()


def test_identical_events_without_ids_in_one_call_stay_two_and_a_retry_adds_none(
    tmp_path: Path,
) -> None:
    root, key = _workspace(tmp_path)
    click = {k: v for k, v in TRACK.items() if k != "messageId"}
    with event_server(root) as (_, url):
        for expected in (2, 0):
            reply = httpx.post(
                f"{url}/v1/batch", json={"batch": [click, click]}, auth=(key, ""), timeout=30
            )
            assert reply.status_code == 200, reply.text
            assert (reply.json()["loaded"], reply.json()["duplicates"]) == (expected, 2 - expected)
    ws = open_workspace(root)
    ids = [r[0] for r in ws.duckdb.execute("SELECT event_id FROM events ORDER BY 1").fetchall()]
    ws.close()
    assert len(ids) == 2 and ids[1] == ids[0] + ":2"
