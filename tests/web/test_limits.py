"""Limits of a small served workspace: sign-in lockouts, body sizes, the base URL, shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import ServedApp, free_port
from vitalsign.ingest.write_keys import ensure_write_key
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace
from vitalsign.web import WebSettings, create_app
from vitalsign.web.throttle import LoginThrottle
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

PASSWORD = "correct horse battery"
WRONG = "not the password"
JSON = {"content-type": "application/json"}
SERVE = [sys.executable, "-m", "vitalsign", "serve"]


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An empty workspace with an admin (ann) and a viewer (vic)."""
    ws = init_workspace(tmp_path / "ws")
    add_user(ws.duckdb, "ann", "admin", PASSWORD, actor="test")
    add_user(ws.duckdb, "vic", "viewer", PASSWORD, actor="test")
    yield ws
    ws.close()


def _served(workspace: Workspace, **settings: object) -> ServedApp:
    return ServedApp(create_app(workspace, WebSettings(serving_cache=False, **settings)))  # type: ignore[arg-type]


def _sign_in(url: str, user: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as browser:
        browser.get("/login")
        token = browser.cookies["vitalsign_login_csrf"]
        return browser.post(
            "/login", data={"username": user, "password": password, "csrf_token": token}
        )


def _audit(workspace: Workspace, action: str) -> list[tuple[str, str]]:
    rows = workspace.duckdb.execute(
        "SELECT subject, detail FROM audit_log WHERE action = ? ORDER BY 1", [action]
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_wrong_passwords_lock_a_user_out_even_for_the_right_password(
    workspace: Workspace,
) -> None:
    with _served(workspace, login_attempts=3, lockout_seconds=600) as served:
        wrong = [_sign_in(served.url, "vic", WRONG).status_code for _ in range(3)]
        locked = _sign_in(served.url, "vic", PASSWORD)
        other = _sign_in(served.url, "ann", PASSWORD)
    assert wrong == [401, 401, 401]
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.text and "minutes" in locked.text
    assert "vitalsign_session" not in locked.headers.get("set-cookie", "")
    assert other.status_code == 303, "another user is not locked out"
    assert len(_audit(workspace, "login.failed")) == 3
    assert [s for s, _ in _audit(workspace, "login.locked")] == ["vic"]


def test_the_right_password_resets_the_count_and_a_lockout_ends(workspace: Workspace) -> None:
    app = create_app(workspace, WebSettings(serving_cache=False, login_attempts=3))
    settings, now = app.state.web.settings, [0.0]  # the throttle's clock, moved by hand:
    app.state.web.logins = LoginThrottle(  # a slow sign-in cannot outlast a short lockout
        settings.login_attempts,
        settings.login_attempts_per_address,
        settings.lockout_seconds,
        clock=lambda: now[0],
    )
    with ServedApp(app) as served:
        codes = []
        for _ in range(3):
            codes += [_sign_in(served.url, "vic", WRONG).status_code for _ in range(2)]
            codes.append(_sign_in(served.url, "vic", PASSWORD).status_code)
        assert codes == [401, 401, 303] * 3
        for _ in range(3):
            _sign_in(served.url, "vic", WRONG)
        assert _sign_in(served.url, "vic", PASSWORD).status_code == 429
        now[0] += settings.lockout_seconds - 1
        assert _sign_in(served.url, "vic", PASSWORD).status_code == 429  # a second to go
        now[0] += 2
        assert _sign_in(served.url, "vic", PASSWORD).status_code == 303


def test_wrong_passwords_from_one_address_lock_that_address_out(workspace: Workspace) -> None:
    settings = {"login_attempts": 50, "login_attempts_per_address": 4, "lockout_seconds": 600}
    with _served(workspace, **settings) as served:
        sprayed = [_sign_in(served.url, f"user{i}", WRONG).status_code for i in range(4)]
        locked = _sign_in(served.url, "ann", PASSWORD)
    assert sprayed == [401] * 4
    assert locked.status_code == 429
    assert any('"address"' in detail for _, detail in _audit(workspace, "login.locked"))


def test_sign_in_limits_and_the_base_url_come_from_vitalsign_yml(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    add_user(ws.duckdb, "vic", "viewer", PASSWORD, actor="test")
    ws.close()
    config = tmp_path / "ws" / "vitalsign.yml"
    config.write_text(
        config.read_text()
        + "web: {login_attempts: 2, lockout: 15m, base_url: 'https://cs.acme.example/vs'}\n"
    )
    workspace = open_workspace(tmp_path / "ws")
    try:
        with ServedApp(create_app(workspace)) as served:
            codes = [_sign_in(served.url, "vic", WRONG).status_code for _ in range(2)]
            locked = _sign_in(served.url, "vic", PASSWORD)
            redirect = httpx.get(
                f"{served.url}/accounts", headers={"Host": "evil.example"}, timeout=30
            )
    finally:
        workspace.close()
    assert codes == [401, 401] and locked.status_code == 429
    assert "15 minutes" in locked.text
    assert redirect.headers["location"].startswith("https://cs.acme.example/vs/login?next=")


def _event(size: int) -> dict[str, object]:
    return {
        "type": "track",
        "event": "login",
        "userId": "u-1",
        "timestamp": "2025-06-01T10:00:00Z",
        "context": {"groupId": "acct-1"},
        "properties": {"account_id": "acct-1", "blob": "x" * size},
    }


def _stored(workspace: Workspace) -> int:
    return int(workspace.duckdb.execute("SELECT count(*) FROM event_api_messages").fetchone()[0])


def test_the_event_api_refuses_a_body_over_its_limit_with_413(workspace: Workspace) -> None:
    key = ensure_write_key(workspace.duckdb)
    big = json.dumps(_event(2 * 1024 * 1024)).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    batch = {"batch": [_event(900 * 1024) for _ in range(7)]}  # each fine, 6+ MB in all
    one_too_big = {"batch": [_event(10), _event(1100 * 1024)]}  # 1.1 MB: under 5 MB in all
    with (
        _served(workspace) as served,
        httpx.Client(base_url=served.url, auth=(key, ""), timeout=60) as client,
    ):
        declared = client.post(
            "/v1/track", content=big, headers={"content-type": "application/json"}
        )
        streamed = client.post(
            "/v1/track", content=chunks(), headers={"content-type": "application/json"}
        )
        too_big_batch = client.post("/v1/batch", json=batch)
        too_big_message = client.post("/v1/batch", json=one_too_big)
        fine = client.post("/v1/track", json=_event(500 * 1024))
    assert declared.status_code == 413 and "limit" in declared.json()["detail"]
    assert streamed.status_code == 413, streamed.text[:300]
    assert too_big_batch.status_code == 413
    assert too_big_message.status_code == 413 and "batch[1]" in too_big_message.json()["detail"]
    assert fine.status_code == 200, fine.text[:300]
    assert _stored(workspace) == 1


def test_every_other_route_refuses_a_big_body_with_a_json_413(workspace: Workspace) -> None:
    token = create_token(workspace.duckdb, "ann", "tests", actor="test")[1]
    body = {"reason": "x" * (2 * 1024 * 1024)}
    with (
        _served(workspace) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        api = client.post(
            "/api/v1/accounts/a-1/overrides/o-1/revoke",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        form = client.post("/login", data={"username": "ann", "password": "x" * 2_000_000})
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "too_large"
    assert form.status_code == 413


EVENTS = 5  # tracks sent before the SIGTERM (was 20: ~0.4 s each on two busy cores)


def test_serve_leaves_no_write_ahead_log_after_sigterm(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = init_workspace(root)
    key = ensure_write_key(ws.duckdb)
    ws.close()
    port = free_port()
    server = subprocess.Popen(
        [*SERVE, "-w", str(root), "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "vitalsign serve did not start"
                time.sleep(0.2)
        for i in range(EVENTS):  # each a write of its own, still in the WAL (far below 16 MB)
            event = {**_event(10), "messageId": f"m-{i}"}
            reply = httpx.post(
                f"http://127.0.0.1:{port}/v1/track", json=event, auth=(key, ""), timeout=30
            )
            assert reply.status_code == 200, reply.text
        assert (root / "vitalsign.duckdb.wal").exists(), "the writes must be in the WAL first"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert not (root / "vitalsign.duckdb.wal").exists()
    import duckdb

    with duckdb.connect(str(root / "vitalsign.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM event_api_messages").fetchone() == (EVENTS,)
