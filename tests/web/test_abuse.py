"""The served demo world resists abuse: numbers, Host headers, task hand-offs, revocation."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import ALICE, BOB, PASSWORD, World
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

HUGE = "9999999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/accounts?page={HUGE}",
        f"/api/v1/scores?page={HUGE}",
        f"/api/v1/alerts?page={HUGE}",
        f"/api/v1/tasks?page={HUGE}",
        f"/api/v1/accounts?per_page={HUGE}",
        "/api/v1/accounts?page=-1",
        "/api/v1/accounts?page=1e400",
        "/api/v1/accounts?page=abc",
    ],
)
def test_a_numeric_parameter_out_of_range_is_a_422_never_a_500(world: World, path: str) -> None:
    with world.client("root") as client:
        reply = client.get(path)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("path", [f"/accounts?page={HUGE}", f"/alerts?page={HUGE}"])
def test_a_page_number_out_of_range_on_a_page_is_a_422_page(world: World, path: str) -> None:
    with world.login("root") as browser:
        reply = browser.get(path)
    assert reply.status_code == 422, reply.text[:500]
    assert "page" in reply.text


def test_links_never_come_from_the_host_header(world: World) -> None:
    evil = {"Host": "evil.example"}
    with httpx.Client(base_url=world.url, timeout=30) as client:
        redirect = client.get("/accounts", headers=evil)
        form = client.get("/login", headers=evil)
    assert redirect.status_code == 303
    assert "evil.example" not in redirect.headers["location"]
    assert redirect.headers["location"].startswith("/login?next=")
    assert form.status_code == 200
    assert "evil.example" not in form.text
    with world.login("root") as browser:
        page = browser.get("/", headers=evil)
        logout = browser.post(
            "/logout", headers=evil, data={"csrf_token": _csrf(browser.get("/").text)}
        )
    assert page.status_code == 200 and "evil.example" not in page.text
    assert "evil.example" not in logout.headers["location"]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page must carry a CSRF token"
    return found.group(1)


def _task_of(world: World, user: str) -> dict[str, object]:
    with world.client(user) as client:
        items = client.get("/api/v1/tasks").json()["items"]
    assert items, f"the demo world must give {user} a task"
    found: dict[str, object] = items[0]
    return found


def test_a_csm_cannot_hand_their_task_to_another_owner(world: World) -> None:
    task = _task_of(world, "alice")
    path = f"/api/v1/tasks/{task['task_id']}"
    with world.client("alice") as alice, world.client("maria") as maria:
        refused = alice.patch(path, json={"assignee": BOB})
        to_bob_by_name = alice.patch(path, json={"assignee": "bob"})
        to_herself = alice.patch(path, json={"assignee": ALICE})
        by_manager = maria.patch(path, json={"assignee": BOB})
        back = maria.patch(path, json={"assignee": task["assignee"]})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    assert "manager" in refused.json()["error"]["message"]
    assert to_bob_by_name.status_code == 403
    assert to_herself.status_code == 200, to_herself.text
    assert by_manager.status_code == 200 and by_manager.json()["assignee"] == BOB
    assert back.status_code == 200


def test_a_token_revoked_through_the_api_stops_working_on_the_next_request(
    world: World,
) -> None:
    db = world.workspace.duckdb
    add_user(db, "rita", "viewer", PASSWORD, actor="test")
    token_id, secret = create_token(db, "rita", "to revoke", actor="test")
    rita = {"Authorization": f"Bearer {secret}"}
    with (
        world.client("root") as root,
        httpx.Client(base_url=world.url, headers=rita, timeout=30) as client,
    ):
        before = client.get("/api/v1/me")
        revoked = root.post(f"/api/v1/tokens/{token_id}/revoke")
        after = client.get("/api/v1/me")
        listed = root.get("/api/v1/users").json()["items"]
    assert before.status_code == 200
    assert revoked.status_code == 200, revoked.text
    assert after.status_code == 401
    assert any(u["name"] == "rita" for u in listed)


def test_a_disabled_or_removed_user_is_refused_on_the_next_request(world: World) -> None:
    db = world.workspace.duckdb
    add_user(db, "dora", "manager", PASSWORD, actor="test")
    secret = create_token(db, "dora", "to disable", actor="test")[1]
    dora = {"Authorization": f"Bearer {secret}"}
    with (
        world.client("root") as root,
        world.login("dora") as session,
        httpx.Client(base_url=world.url, headers=dora, timeout=30) as client,
    ):
        assert client.get("/api/v1/me").status_code == 200
        assert session.get("/api/v1/me").status_code == 200
        assert root.post("/api/v1/users/dora/disable").status_code == 200
        disabled_token = client.get("/api/v1/me")
        disabled_session = session.get("/api/v1/me")
        assert root.post("/api/v1/users/dora/enable").status_code == 200
        enabled = client.get("/api/v1/me")
        removed = root.delete("/api/v1/users/dora")
        after_removal = client.get("/api/v1/me")
    assert disabled_token.status_code == 401
    assert disabled_session.status_code == 401
    assert enabled.status_code == 200
    assert removed.status_code == 200, removed.text
    assert after_removal.status_code == 401


def test_a_disabled_user_cannot_sign_in(world: World) -> None:
    db = world.workspace.duckdb
    add_user(db, "dina", "viewer", PASSWORD, actor="test")
    with world.client("root") as root:
        assert root.post("/api/v1/users/dina/disable").status_code == 200
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        browser.get("/login")
        token = browser.cookies["vitalsign_login_csrf"]
        reply = browser.post(
            "/login", data={"username": "dina", "password": PASSWORD, "csrf_token": token}
        )
    assert reply.status_code in (401, 403)
    assert "disabled" in reply.text


@pytest.mark.parametrize("user", ["maria", "alice", "vic"])
def test_only_an_admin_manages_users_and_tokens(world: World, user: str) -> None:
    with world.client(user) as client:
        listing = client.get("/api/v1/users")
        disable = client.post("/api/v1/users/bob/disable")
        remove = client.delete("/api/v1/users/bob")
    assert listing.status_code == 403
    assert disable.status_code == 403
    assert remove.status_code == 403
