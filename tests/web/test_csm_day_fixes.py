"""Fixes from the new-user trial of the CSM's day: the account page's forms return to it."""

from __future__ import annotations

import re

import httpx

from conftest import PASSWORD, ServedApp, World
from vitalsign.web import WebSettings, create_app


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page must carry a CSRF token"
    return found.group(1)


def _open_alert(world: World, account: str) -> str | None:
    row = world.workspace.duckdb.execute(
        "SELECT alert_id FROM alerts WHERE account_id = ? AND status = 'open' ORDER BY 1 LIMIT 1",
        [account],
    ).fetchone()
    return None if row is None else str(row[0])


def test_the_account_pages_forms_return_to_the_account_under_a_base_url(world: World) -> None:
    app = create_app(world.workspace, WebSettings(base_url="http://127.0.0.1:8791"))
    account = world.alice_account
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=30) as browser:
        browser.get("/login")
        token = browser.cookies["vitalsign_login_csrf"]
        signed = browser.post(
            "/login", data={"username": "root", "password": PASSWORD, "csrf_token": token}
        )
        assert signed.status_code == 303
        page = browser.get(f"/accounts/{account}").text
        nexts = set(re.findall(r'name="next" value="([^"]*)"', page))
        assert nexts == {f"/accounts/{account}"}, nexts
        alert = _open_alert(world, account)
        assert alert is not None, "the world's alice account has an open alert"
        acked = browser.post(
            f"/alerts/{alert}/acknowledge",
            data={"next": f"/accounts/{account}", "csrf_token": _csrf(page)},
        )
        foreign = browser.post(
            f"/alerts/{alert}/feedback",
            data={
                "useful": "yes",
                "next": "http://evil.example/accounts",
                "csrf_token": _csrf(page),
            },
        )
    assert acked.status_code == 303
    assert acked.headers["location"] == f"/accounts/{account}?notice=acknowledged"
    assert foreign.status_code == 303, foreign.text[:300]
    assert foreign.headers["location"].startswith("/alerts")
