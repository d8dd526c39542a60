"""Logins, session cookies, CSRF, API tokens and pages refusing what a role may not see."""

from __future__ import annotations

import re

import httpx

from conftest import ALICE, BOB, PASSWORD, ServedApp, World
from vitalsign.web import WebSettings, create_app
from vitalsign.web.tokens import create_token, revoke_token


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def test_a_page_sends_a_stranger_to_the_login_form_and_back(world: World) -> None:
    with world.client() as browser:
        reply = browser.get(f"/accounts/{world.alice_account}")
        assert reply.status_code == 303
        assert reply.headers["location"].endswith(
            f"/login?next=%2Faccounts%2F{world.alice_account}"
        )
        form = browser.get(reply.headers["location"])
        signed_in = browser.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrf_token": _csrf(form.text),
                "next": f"/accounts/{world.alice_account}",
            },
        )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == f"/accounts/{world.alice_account}"


def test_the_session_cookie_is_http_only_and_same_site_lax(world: World) -> None:
    with world.client() as browser:
        form = browser.get("/login")
        reply = browser.post(
            "/login",
            data={"username": "vic", "password": PASSWORD, "csrf_token": _csrf(form.text)},
        )
    cookie = reply.headers["set-cookie"].lower()
    assert "vitalsign_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie.split("vitalsign_session=")[1].split(",")[0]


def test_cookies_are_secure_when_configured(world: World) -> None:
    app = create_app(world.workspace, WebSettings(secure_cookies=True))
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=30) as browser:
        form = browser.get("/login")
        assert "; secure" in form.headers["set-cookie"].lower()
        token = _csrf(form.text)
        browser.cookies.clear()  # a browser would not send a Secure cookie back over http
        reply = browser.post(
            "/login",
            data={"username": "vic", "password": PASSWORD, "csrf_token": token},
            headers={"Cookie": f"vitalsign_login_csrf={token}"},
        )
    assert reply.status_code == 303
    assert "; secure" in reply.headers["set-cookie"].lower()


def test_a_wrong_password_or_a_missing_csrf_token_does_not_sign_in(world: World) -> None:
    with world.client() as browser:
        form = browser.get("/login")
        wrong = browser.post(
            "/login",
            data={"username": "vic", "password": "not it at all", "csrf_token": _csrf(form.text)},
        )
        forged = browser.post("/login", data={"username": "vic", "password": PASSWORD})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert "vitalsign_session" not in wrong.headers.get("set-cookie", "")
    assert forged.status_code == 403


def test_a_form_post_without_the_session_csrf_token_is_refused(world: World) -> None:
    account = world.workspace.duckdb.execute(
        "SELECT account_id FROM accounts WHERE owner = 'dan@vendor.example' LIMIT 1"
    ).fetchone()[0]
    with world.login("maria") as browser:
        page = browser.get(f"/accounts/{account}")
        forged = browser.post(
            f"/accounts/{account}/overrides",
            data={"target": "band", "value": "green", "reason": "forged", "csrf_token": "x"},
        )
        real = browser.post(
            f"/accounts/{account}/overrides",
            data={
                "target": "band",
                "value": "green",
                "reason": "real",
                "csrf_token": _csrf(page.text),
            },
        )
    assert forged.status_code == 403 and "did not come from this site" in forged.text
    assert real.status_code == 303
    reasons = world.workspace.duckdb.execute(
        "SELECT reason FROM overrides WHERE account_id = ?", [account]
    ).fetchall()
    assert reasons == [("real",)]


def test_an_api_change_through_a_session_needs_the_csrf_header(world: World) -> None:
    with world.login("root") as browser:
        page = browser.get("/alerts")
        alert = world.workspace.duckdb.execute(
            "SELECT alert_id FROM alerts WHERE owner NOT IN (?, ?) ORDER BY alert_id LIMIT 1",
            [ALICE, BOB],
        ).fetchone()[0]
        without = browser.post(f"/api/v1/alerts/{alert}/feedback", json={"useful": True})
        with_header = browser.post(
            f"/api/v1/alerts/{alert}/feedback",
            json={"useful": True},
            headers={"X-CSRF-Token": _csrf(page.text)},
        )
        reads = browser.get("/api/v1/me")
    assert without.status_code == 403 and without.json()["error"]["code"] == "csrf"
    assert with_header.status_code == 200
    assert reads.json()["via"] == "session"


def test_a_revoked_or_unknown_token_is_refused(world: World) -> None:
    token_id, secret = create_token(world.workspace.duckdb.cursor(), "vic", "short-lived")
    with httpx.Client(
        base_url=world.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    ) as api:
        assert api.get("/api/v1/me").json()["name"] == "vic"
        revoke_token(world.workspace.duckdb.cursor(), token_id)
        refused = api.get("/api/v1/me")
    with httpx.Client(
        base_url=world.url, headers={"Authorization": "Bearer vst_nope"}, timeout=30
    ) as api:
        unknown = api.get("/api/v1/me")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    assert unknown.status_code == 401


def test_signing_out_ends_the_session(world: World) -> None:
    with world.login("vic") as browser:
        page = browser.get("/")
        assert page.status_code == 200
        out = browser.post("/logout", data={"csrf_token": _csrf(page.text)})
        assert out.status_code == 303
        assert browser.get("/").status_code == 303


def test_a_csm_is_refused_another_csms_account_page(world: World) -> None:
    with world.login("bob") as browser:
        refused = browser.get(f"/accounts/{world.alice_account}")
        own = browser.get(f"/accounts/{world.bob_account}")
        listing = browser.get("/accounts", params={"owner": "alice@vendor.example"})
    assert refused.status_code == 403 and "not in your book" in refused.text
    assert own.status_code == 200
    assert world.alice_account not in listing.text


def test_pages_carry_security_headers(world: World) -> None:
    with world.client() as browser:
        reply = browser.get("/login")
    assert reply.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in reply.headers["content-security-policy"]
