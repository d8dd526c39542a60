"""Tasks by hand (account page form and API) and the inbox (ARR, groups, filters, bulk acknowledge).

Every new route is refused to a stranger, a viewer's changes are refused, and a csm cannot
touch another csm's book.
"""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import BOB, World

NEW_PAGE_POSTS = ["/accounts/{account}/tasks", "/alerts/acknowledge", "/tasks/{task}/plan"]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page must carry a CSRF token"
    return found.group(1)


def _open_alerts(world: World, account: str) -> list[str]:
    rows = world.workspace.duckdb.execute(
        "SELECT alert_id FROM alerts WHERE account_id = ? AND status = 'open' ORDER BY 1",
        [account],
    ).fetchall()
    return [str(r[0]) for r in rows]


def _statuses(world: World, account: str) -> dict[str, str]:
    rows = world.workspace.duckdb.execute(
        "SELECT alert_id, status FROM alerts WHERE account_id = ? ORDER BY 1", [account]
    ).fetchall()
    return {str(a): str(s) for a, s in rows}


def _any_task(world: World, account: str) -> str:
    with world.client("root") as api:
        made = api.post(f"/api/v1/accounts/{account}/tasks", json={"title": "Prepare the QBR"})
    assert made.status_code == 201, made.text
    return str(made.json()["task_id"])


def test_a_stranger_is_refused_every_new_route(world: World) -> None:
    task = _any_task(world, world.bob_account)
    with httpx.Client(base_url=world.url, timeout=30, follow_redirects=False) as anonymous:
        api_task = anonymous.post(
            f"/api/v1/accounts/{world.bob_account}/tasks", json={"title": "x"}
        )
        api_ack = anonymous.post("/api/v1/alerts/acknowledge", json={"alert_ids": ["a-1"]})
        assert api_task.status_code == 401 and api_ack.status_code == 401
        for path in NEW_PAGE_POSTS:
            url = path.format(account=world.bob_account, task=task)
            reply = anonymous.post(url, data={"title": "x", "alert_ids": "a-1"})
            assert reply.status_code in (303, 401, 403), (url, reply.status_code)
            assert reply.status_code != 303 or "/login" in reply.headers["location"]


def test_a_viewer_may_not_create_tasks_or_acknowledge(world: World) -> None:
    alerts = _open_alerts(world, world.bob_account) or list(_statuses(world, world.bob_account))
    with world.client("vic") as api:
        made = api.post(f"/api/v1/accounts/{world.bob_account}/tasks", json={"title": "x"})
        acked = api.post("/api/v1/alerts/acknowledge", json={"alert_ids": alerts[:1]})
    assert made.status_code == 403 and acked.status_code == 403
    before = _statuses(world, world.bob_account)
    with world.login("vic") as browser:
        page = browser.get(f"/accounts/{world.bob_account}").text
        assert 'id="new-task"' not in page  # no form for a viewer
        refused = browser.post(
            f"/accounts/{world.bob_account}/tasks",
            data={"title": "x", "csrf_token": _csrf(page)},
        )
    assert refused.status_code == 403
    assert _statuses(world, world.bob_account) == before


def test_a_csm_cannot_touch_another_csms_book(world: World) -> None:
    bobs = _statuses(world, world.bob_account)
    alices = _statuses(world, world.alice_account)
    assert bobs and alices, "the world gives alice and bob an alert each"
    task = _any_task(world, world.bob_account)
    with world.client("alice") as api:
        made = api.post(f"/api/v1/accounts/{world.bob_account}/tasks", json={"title": "x"})
        mixed = api.post(
            "/api/v1/alerts/acknowledge", json={"alert_ids": [*alices][:1] + [*bobs][:1]}
        )
    assert made.status_code == 403 and mixed.status_code == 403
    assert _statuses(world, world.alice_account) == alices  # the whole batch was refused
    with world.login("alice") as browser:
        token = _csrf(browser.get("/alerts").text)
        form = browser.post(
            "/alerts/acknowledge", data={"alert_ids": [*bobs][:1], "csrf_token": token}
        )
        plan = browser.post(
            f"/tasks/{task}/plan", data={"due_date": "2031-01-01", "csrf_token": token}
        )
    assert form.status_code == 403 and plan.status_code == 403
    assert _statuses(world, world.bob_account) == bobs


def test_a_csm_creates_re_dates_and_closes_a_task_on_the_account_page(world: World) -> None:
    account = world.alice_account
    with world.login("alice") as browser:
        page = browser.get(f"/accounts/{account}").text
        created = browser.post(
            f"/accounts/{account}/tasks",
            data={
                "title": "Call the CFO about seats",
                "due_date": "2030-05-01",
                "csrf_token": _csrf(page),
            },
        )
        assert created.status_code == 303
        page = browser.get(created.headers["location"]).text
        assert "Call the CFO about seats" in page and "created by hand" in page
        task = world.workspace.duckdb.execute(
            "SELECT task_id FROM tasks WHERE title = 'Call the CFO about seats'"
        ).fetchone()[0]
        moved = browser.post(
            f"/tasks/{task}/plan",
            data={
                "due_date": "2030-06-15",
                "next": f"/accounts/{account}",
                "csrf_token": _csrf(page),
            },
        )
        assert moved.status_code == 303
        assert "due 2030-06-15" in browser.get(f"/accounts/{account}").text
    with world.client("alice") as api:
        shown = api.get(f"/api/v1/tasks/{task}").json()
        closed = api.patch(
            f"/api/v1/tasks/{task}", json={"status": "closed", "outcome": "agreed 20 more seats"}
        )
    assert shown["due_date"] == "2030-06-15" and shown["playbook"] == "manual"
    assert closed.json()["status"] == "closed"


def test_a_task_from_a_rule_shows_the_alert_it_came_from(world: World) -> None:
    row = world.workspace.duckdb.execute(
        "SELECT t.account_id, a.summary FROM tasks t JOIN alerts a USING (alert_id) "
        "WHERE t.status = 'open' ORDER BY t.account_id LIMIT 1"
    ).fetchone()
    assert row is not None, "the world's rule opens tasks with its alerts"
    with world.login("root") as browser:
        page = browser.get(f"/accounts/{row[0]}").text
    assert "From alert:" in page and row[1] in page


def test_the_api_creates_a_task_for_an_admin_and_refuses_an_empty_title(world: World) -> None:
    with world.client("maria") as api:
        made = api.post(
            f"/api/v1/accounts/{world.bob_account}/tasks",
            json={
                "title": "Send the renewal quote",
                "assignee": "maria",
                "steps": ["Draft", "Send"],
            },
        )
        empty = api.post(f"/api/v1/accounts/{world.bob_account}/tasks", json={"title": ""})
    assert made.status_code == 201
    assert made.json()["assignee"] == "maria" and made.json()["steps"] == ["Draft", "Send"]
    assert empty.status_code in (400, 422)


def test_the_inbox_groups_by_account_with_arr_and_filters_by_rule_and_severity(
    world: World,
) -> None:
    with world.login("root") as browser:
        page = browser.get("/alerts").text
        by_rule = browser.get("/alerts", params={"rule": "low_score"}).text
        none = browser.get("/alerts", params={"severity": "critical"}).text
    groups = re.findall(r'<tbody class="account-group" data-account="([^"]+)"', page)
    assert groups and len(groups) == len(set(groups))  # one group per account
    assert 'ARR <span class="arr">$' in page
    assert "option selected>low_score" in by_rule.replace("selected >", "selected>")
    assert "No alert here." in none  # the world's only rule is a warning


def test_bulk_acknowledge_acknowledges_the_ticked_alerts_and_skips_the_rest(
    world: World,
) -> None:
    rows = world.workspace.duckdb.execute(
        "SELECT a.alert_id FROM alerts a JOIN accounts c USING (account_id) "
        "WHERE a.status = 'open' AND a.owner = ? AND c.owner = ? ORDER BY 1 LIMIT 2",
        [BOB, BOB],
    ).fetchall()
    alerts = [str(r[0]) for r in rows]
    if not alerts:
        pytest.skip("bob has no open alert left in this session's world")
    with world.client("bob") as api:
        reply = api.post("/api/v1/alerts/acknowledge", json={"alert_ids": alerts * 2})
        again = api.post("/api/v1/alerts/acknowledge", json={"alert_ids": alerts})
    assert reply.status_code == 200 and reply.json() == {"acknowledged": alerts, "skipped": []}
    assert again.json() == {"acknowledged": [], "skipped": alerts}
    audited = world.workspace.duckdb.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'alert.acknowledge' "
        "AND subject IN (SELECT UNNEST(?::VARCHAR[]))",
        [alerts],
    ).fetchone()[0]
    assert audited == len(alerts)


def test_the_task_and_bulk_routes_are_documented() -> None:
    from pathlib import Path

    from fastapi.routing import APIRoute

    from vitalsign.web import task_routes

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [
        f"{method} {route.path}"
        for route in task_routes.api.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if f"`{method} {route.path}" not in text
    ]
    assert missing == []
