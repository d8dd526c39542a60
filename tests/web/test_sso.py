"""Single sign-on against a real OpenID provider (the npm oidc-provider under Node), over HTTP.

vitalsign.yml turns SSO on (web.sso, local passwords off); the provider knows the accounts of
sso_world.ACCOUNTS. Covers: a first sign-in creates the user with the role its groups map to
(audited), a refused domain, an unverified e-mail, a disabled user, a role following the
groups, signing out (vitalsign's session and the provider's), password sign-in refused, and
the /sso routes refusing forged or unconfigured use.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sso_world import PROVIDER, SsoWorld, served_sso_world, sso_sign_in

from conftest import PASSWORD, ServedApp, free_port
from vitalsign.errors import WorkspaceError
from vitalsign.store.sso_config import ROLE_RANK, SsoConfig
from vitalsign.web import WebSettings, create_app, sso_routes
from vitalsign.web.users import add_user, set_disabled

DOCS = Path(__file__).resolve().parents[2] / "docs" / "web.md"


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoWorld]:
    """The provider and vitalsign with web.sso, started once for this module."""
    with served_sso_world(tmp_path_factory.mktemp("sso") / "ws") as world:
        yield world


def _user(sso: SsoWorld, name: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = (
        sso.workspace.duckdb.cursor()
        .execute("SELECT role, owner, disabled_at FROM web_users WHERE name = ?", [name])
        .fetchone()
    )
    return row


def _audit(sso: SsoWorld, subject: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = (
        sso.workspace.duckdb.cursor()
        .execute(
            "SELECT actor, action, detail FROM audit_log WHERE subject = ? ORDER BY logged_at",
            [subject],
        )
        .fetchall()
    )
    return [(actor, action, json.loads(detail)) for actor, action, detail in rows]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def test_the_sign_in_page_offers_the_provider_and_no_password_form(sso: SsoWorld) -> None:
    with sso.client() as browser:
        reply = browser.get("/login", params={"next": "/accounts"})
        page = reply.text
    csp = reply.headers["content-security-policy"]
    assert f"form-action 'self' {sso.provider.issuer};" in csp  # forms lead on to the provider
    assert f"Sign in with {PROVIDER}" in page
    assert 'action="/sso/login"' in page and 'name="next" value="/accounts"' in page
    assert 'name="password"' not in page
    with sso.client(sso.mixed_url) as browser:
        mixed = browser.get("/login").text
    assert f"Sign in with {PROVIDER}" in mixed and 'name="password"' in mixed


def test_a_first_sign_in_creates_the_user_with_the_role_their_groups_map_to(
    sso: SsoWorld,
) -> None:
    with sso.client() as browser:
        back = sso_sign_in(browser, sso.provider, "ann", next_url="/alerts")
        assert back.status_code == 303 and back.headers["location"] == "/alerts"
        page = browser.get("/alerts")
    assert page.status_code == 200 and "ann@vendor.example" in page.text  # the e-mail, lowered
    assert _user(sso, "ann@vendor.example") == ("admin", None, None)
    assert _audit(sso, "ann@vendor.example") == [
        ("sso", "user.add", {"role": "admin", "owner": None})
    ]

    with sso.client() as browser:  # a csm: their book is their e-mail (accounts.owner)
        assert sso_sign_in(browser, sso.provider, "carl").status_code == 303
        again = browser.get("/sso/login", params={"next": "/alerts"})  # signed in: no trip
        assert again.status_code == 303 and again.headers["location"] == "/alerts"
    assert _user(sso, "carl@vendor.example") == ("csm", "carl@vendor.example", None)

    with sso.client() as browser:  # no group maps: the default role; an outside next is dropped
        back = sso_sign_in(browser, sso.provider, "dora", next_url="//evil.example/x")
        assert back.headers["location"] == "/"
        assert browser.get("/").status_code == 200
    assert _user(sso, "dora@vendor.example") == ("viewer", None, None)


def test_a_domain_not_allowed_gets_a_page_saying_so_and_no_user(sso: SsoWorld) -> None:
    with sso.client() as browser:
        refused = sso_sign_in(browser, sso.provider, "eve")
        assert "vitalsign_session" not in browser.cookies
        after = browser.get("/accounts")
    assert refused.status_code == 403
    assert "eve@elsewhere.example may not sign in here" in refused.text
    assert (
        "only addresses at vendor.example" in refused.text
        and 'data-code="sso_domain"' in refused.text
    )
    assert "Back to the sign-in page" in refused.text
    assert after.status_code == 303 and "/login" in after.headers["location"]
    assert _user(sso, "eve@elsewhere.example") is None
    assert _audit(sso, "eve@elsewhere.example") == [
        ("sso", "login.sso_refused", {"reason": "sso_domain"})
    ]


def test_an_unverified_e_mail_is_refused(sso: SsoWorld) -> None:
    with sso.client() as browser:
        refused = sso_sign_in(browser, sso.provider, "uma")
    assert refused.status_code == 403 and "has not verified uma@vendor.example" in refused.text
    assert _user(sso, "uma@vendor.example") is None


def test_a_disabled_user_is_refused_even_through_sso(sso: SsoWorld) -> None:
    con = sso.workspace.duckdb.cursor()
    add_user(con, "dan@vendor.example", "viewer", PASSWORD, actor="test")
    set_disabled(con, "dan@vendor.example", True, actor="test")
    with sso.client() as browser:
        refused = sso_sign_in(browser, sso.provider, "dan")
        assert "vitalsign_session" not in browser.cookies
    assert refused.status_code == 403 and 'data-code="sso_disabled"' in refused.text
    assert "dan@vendor.example is disabled in vitalsign; ask an admin" in refused.text
    assert ("sso", "login.sso_refused", {"reason": "sso_disabled"}) in _audit(
        sso, "dan@vendor.example"
    )


def test_a_known_user_takes_the_role_their_groups_map_to(sso: SsoWorld) -> None:
    con = sso.workspace.duckdb.cursor()
    add_user(con, "gil@vendor.example", "viewer", PASSWORD, actor="test")
    add_user(con, "bea@vendor.example", "manager", PASSWORD, actor="test")
    with sso.client() as browser:
        assert sso_sign_in(browser, sso.provider, "gil").status_code == 303
    with sso.client() as browser:
        assert sso_sign_in(browser, sso.provider, "bea").status_code == 303
    assert _user(sso, "gil@vendor.example") == ("csm", "gil@vendor.example", None)
    change = _audit(sso, "gil@vendor.example")[-1]
    assert change == ("sso", "user.role", {"from": "viewer", "to": "csm", "groups": ["cs-team"]})
    assert _user(sso, "bea@vendor.example") == ("manager", None, None)  # no group maps: kept


def test_signing_out_ends_the_session_and_the_providers(sso: SsoWorld) -> None:
    with sso.client() as browser:
        assert sso_sign_in(browser, sso.provider, "ann").status_code == 303
        page = browser.get("/alerts")
        actions = [a for _, a, _ in _audit(sso, "ann@vendor.example")]
        assert actions == ["user.add"]  # signing in again created nothing more
        out = browser.post("/logout", data={"csrf_token": _csrf(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/sso/logout"
        to_provider = browser.get(out.headers["location"])
        end_session = to_provider.headers["location"]
        assert end_session.startswith(sso.provider.issuer + "/session/end?")
        assert "client_id=vitalsign" in end_session and "post_logout_redirect_uri" in end_session
        assert "vitalsign_sso" not in browser.cookies
        assert browser.get("/accounts").status_code == 303  # vitalsign's session is over
        confirm = browser.get(end_session)
        assert "Sign out of the test provider?" in confirm.text
        form = re.search(r'<form[^>]*action="([^"]+)"', confirm.text)
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text)
        assert form and xsrf
        action = str(confirm.url.join(form.group(1)))
        done = browser.post(action, data={"xsrf": xsrf.group(1), "logout": "yes"})
        assert done.status_code == 303
        assert done.headers["location"].startswith(f"{sso.url}/login")
        # the provider's session is over too: signing in again asks for the password
        start = browser.get("/sso/login")
        asked = browser.get(start.headers["location"], follow_redirects=True)
        assert "Sign in to the test provider" in asked.text


def test_a_password_sign_in_is_refused_when_local_passwords_are_off(sso: SsoWorld) -> None:
    con = sso.workspace.duckdb.cursor()
    add_user(con, "root", "admin", PASSWORD, actor="test")
    for url, status in ((sso.url, 403), (sso.mixed_url, 303)):
        with sso.client(url) as browser:
            browser.get("/login")
            token = browser.cookies["vitalsign_login_csrf"]
            reply = browser.post(
                "/login", data={"username": "root", "password": PASSWORD, "csrf_token": token}
            )
            assert reply.status_code == status, reply.text
            assert ("vitalsign_session" in browser.cookies) == (status == 303)
    assert f"use Sign in with {PROVIDER}" in reply.text or status == 303


def test_the_sso_routes_refuse_a_forged_or_stale_callback(sso: SsoWorld) -> None:
    with sso.client() as browser:  # anonymous, no sign-in started: nothing to match
        forged = browser.get("/sso/callback", params={"code": "x", "state": "forged"})
        denied = browser.get("/sso/callback", params={"error": "access_denied"})
        assert "vitalsign_session" not in browser.cookies
    assert forged.status_code == 400 and "did not start here" in forged.text
    with sso.client() as browser:  # signing out at the provider needs no vitalsign session
        out = browser.get("/sso/logout")
        assert out.status_code == 303 and "vitalsign_session" not in browser.cookies
    assert out.headers["location"].startswith(sso.provider.issuer + "/session/end?")
    assert denied.status_code == 400 and "access_denied" in denied.text


def test_without_web_sso_the_routes_are_not_found(sso: SsoWorld) -> None:
    app = create_app(sso.workspace, WebSettings(serving_cache=False))
    with ServedApp(app) as served, sso.client(served.url) as browser:
        page = browser.get("/login").text
        for path in ("/sso/login", "/sso/callback", "/sso/logout"):
            reply = browser.get(path)
            assert reply.status_code == 404 and "single sign-on is not configured" in reply.text
    assert "Sign in with" not in page and 'name="password"' in page


def test_an_unreachable_provider_gets_a_page_naming_it(sso: SsoWorld) -> None:
    configured = WebSettings.from_config(sso.workspace.config.web, serving_cache=False)
    assert configured.sso is not None
    gone = configured.sso.model_copy(update={"issuer": f"http://127.0.0.1:{free_port()}"})
    app = create_app(sso.workspace, WebSettings(serving_cache=False, sso=gone))
    with ServedApp(app) as served, sso.client(served.url) as browser:
        reply = browser.get("/sso/login")
    assert reply.status_code == 502 and 'data-code="sso_unreachable"' in reply.text
    assert f"{PROVIDER} could not be reached at {gone.discovery_url}" in reply.text
    assert "check web.sso.issuer" in reply.text


def _config(**changes: Any) -> dict[str, Any]:
    return {
        "provider": "Okta",
        "issuer": "https://acme.okta.example",
        "client_id": "vitalsign",
        "client_secret_env": "VITALSIGN_SSO_SECRET_UNSET",
        "allowed_domains": ["acme.example"],
        **changes,
    }


def test_a_client_secret_in_the_file_is_refused_with_how_to_fix_it() -> None:
    with pytest.raises(ValidationError, match=r"never put the secret in vitalsign\.yml"):
        SsoConfig.model_validate(_config(client_secret="s3cret"))
    with pytest.raises(ValidationError, match="must include openid"):
        SsoConfig.model_validate(_config(scopes=["email"]))
    with pytest.raises(ValidationError, match="not an e-mail domain"):
        SsoConfig.model_validate(_config(allowed_domains=["acme"]))


def test_a_missing_secret_variable_is_named_when_the_server_starts(sso: SsoWorld) -> None:
    config = SsoConfig.model_validate(_config())
    with pytest.raises(WorkspaceError, match="VITALSIGN_SSO_SECRET_UNSET is not set"):
        config.client_secret()
    with pytest.raises(
        WorkspaceError, match=r"web\.sso\.client_secret_env: .*SECRET_UNSET is not set"
    ):
        create_app(sso.workspace, WebSettings(serving_cache=False, sso=config))


def test_serve_refuses_a_missing_secret_before_building_the_serving_cache(
    sso: SsoWorld, caplog: pytest.LogCaptureFixture
) -> None:
    config = SsoConfig.model_validate(_config())
    caplog.set_level(logging.INFO, logger="vitalsign.web")
    before = set(threading.enumerate())
    with pytest.raises(WorkspaceError, match="SECRET_UNSET is not set"):
        create_app(sso.workspace, WebSettings(serving_cache=True, sso=config))
    for thread in set(threading.enumerate()) - before:
        if thread.name == "serving-cache":
            thread.join(60)
    assert not [r.getMessage() for r in caplog.records if "serving cache" in r.getMessage()]


def test_the_highest_mapped_role_wins_and_domains_match_exactly() -> None:
    config = SsoConfig.model_validate(_config(roles={"a": "viewer", "b": "manager", "c": "csm"}))
    assert config.role_for(["a", "c"]) == "csm" and config.role_for(["c", "b", "a"]) == "manager"
    assert config.role_for(["zzz"]) is None
    assert config.domain_allowed("Ann@ACME.example")
    assert not config.domain_allowed("ann@evil-acme.example")
    assert not config.domain_allowed("ann@acme.example.evil.example")


GROUPS = st.sampled_from(["a", "b", "c", "d", "e"])
ROLES = st.sampled_from(["admin", "manager", "csm", "viewer"])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(GROUPS, ROLES), st.lists(GROUPS, max_size=6))
def test_the_mapped_role_is_the_highest_whatever_the_order_of_groups(
    roles: dict[str, str], groups: list[str]
) -> None:
    config = SsoConfig.model_validate(_config(roles=roles))
    got = config.role_for(groups)
    mapped = [roles[g] for g in groups if g in roles]
    assert got == config.role_for(list(reversed(groups)))
    if not mapped:
        assert got is None
    else:
        assert got in mapped and all(ROLE_RANK[got] <= ROLE_RANK[r] for r in mapped)


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){0,2}", fullmatch=True))
@example("acme.example")
@example("example")
@example("eu.acme.example")
def test_only_an_allowed_domain_exactly_may_sign_in(domain: str) -> None:
    config = SsoConfig.model_validate(_config(allowed_domains=["acme.example"]))
    assert config.domain_allowed(f"ann@{domain}") == (domain == "acme.example")
    assert config.domain_allowed(f"Ann@{domain.upper()}") == (domain == "acme.example")


def test_every_sso_key_is_documented_and_the_example_parses() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Single sign-on") :]
    missing = [key for key in SsoConfig.model_fields if f"`{key}`" not in section]
    missing += [r.path for r in sso_routes.router.routes if f"`{r.path}`" not in section]  # type: ignore[attr-defined]
    assert not missing, f"docs/web.md, Single sign-on, does not mention {missing}"
    example = re.search(r"```yaml\n(web:\n  sso:\n.*?)```", section, re.DOTALL)
    assert example, "the section has a ```yaml example starting with web: sso:"
    from ruamel.yaml import YAML

    parsed = YAML(typ="safe").load(example.group(1))
    SsoConfig.model_validate(parsed["web"]["sso"])
