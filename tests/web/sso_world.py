"""An empty workspace whose vitalsign.yml turns single sign-on on, served beside a real provider.

The provider (tests/oidc_provider.py: the npm oidc-provider under Node) knows the accounts in
ACCOUNTS; vitalsign.yml maps the group cs-admins to admin and cs-team to csm, allows the
domain vendor.example, and turns local passwords off. `sso_sign_in` walks an HTTP client
through the provider's sign-in form and back, as a browser would.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import ServedApp, free_port
from oidc_provider import OidcProvider, node_missing, running_oidc_provider
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace
from vitalsign.web import WebSettings, create_app

PROVIDER = "Test IdP"
SECRET_ENV = "VITALSIGN_TEST_SSO_SECRET"
SSO_PASSWORD = "provider password 1"
ACCOUNTS = {  # login at the provider -> claims
    "ann": {"email": "Ann@Vendor.example", "groups": ["cs-admins", "everyone"]},
    "carl": {"email": "carl@vendor.example", "groups": ["cs-team"]},
    "dora": {"email": "dora@vendor.example", "groups": ["everyone"]},
    "eve": {"email": "eve@elsewhere.example", "groups": ["cs-admins"]},
    "dan": {"email": "dan@vendor.example", "groups": []},
    "gil": {"email": "gil@vendor.example", "groups": ["cs-team"]},
    "uma": {"email": "uma@vendor.example", "groups": [], "email_verified": False},
    "bea": {"email": "bea@vendor.example", "groups": []},
}
SSO_YML = """\
web:
  sso:
    provider: {provider}
    issuer: {issuer}
    client_id: vitalsign
    client_secret_env: {secret_env}
    scopes: [openid, email, profile, groups]
    email_claim: email
    groups_claim: groups
    allowed_domains: [vendor.example]
    roles:
      cs-admins: admin
      cs-team: csm
    default_role: viewer
    local_passwords: false
"""


@dataclass
class SsoWorld:
    """The served workspace, its provider, and a second app that keeps local passwords."""

    workspace: Workspace
    url: str
    provider: OidcProvider
    mixed_url: str  # the same workspace, web.sso with local_passwords: true

    def client(self, url: str | None = None) -> httpx.Client:
        """A fresh cookie jar (a new browser) on vitalsign."""
        return httpx.Client(base_url=url or self.url, timeout=30)


def skip_without_node() -> None:
    """Skip the module when Node or npm is missing."""
    reason = node_missing()
    if reason:
        pytest.skip(reason)


@contextmanager
def served_sso_world(root: Path) -> Iterator[SsoWorld]:
    """Start the provider and vitalsign (read from vitalsign.yml); stop both afterwards."""
    skip_without_node()
    init_workspace(root).close()
    provider_port = free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    config = root / "vitalsign.yml"
    yml = SSO_YML.format(provider=PROVIDER, issuer=issuer, secret_env=SECRET_ENV)
    config.write_text(config.read_text() + yml)
    secret = "test-client-secret-not-used-anywhere-else"
    previous = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = secret
    workspace = open_workspace(root)
    try:
        settings = WebSettings.from_config(workspace.config.web, serving_cache=False)
        assert settings.sso is not None and not settings.sso.local_passwords
        served = ServedApp(create_app(workspace, settings))
        mixed_sso = settings.sso.model_copy(update={"local_passwords": True})
        mixed = ServedApp(create_app(workspace, WebSettings(serving_cache=False, sso=mixed_sso)))
        client = {
            "client_id": "vitalsign",
            "client_secret": secret,
            "redirect_uris": [f"{served.url}/sso/callback", f"{mixed.url}/sso/callback"],
            "post_logout_redirect_uris": [f"{served.url}/login", f"{mixed.url}/login"],
        }
        accounts = {
            login: {"password": SSO_PASSWORD, "name": login.title(), **claims}
            for login, claims in ACCOUNTS.items()
        }
        with running_oidc_provider(client, accounts, provider_port) as provider, served, mixed:
            assert provider.issuer == issuer
            yield SsoWorld(workspace, served.url, provider, mixed.url)
    finally:
        workspace.close()
        if previous is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = previous


def form_action(page: str) -> str:
    """The action of the first form on a provider page."""
    found = re.search(r'<form[^>]*action="([^"]+)"', page)
    assert found, f"a form on the page: {page[:500]}"
    return found.group(1).replace("&amp;", "&")


def sso_sign_in(
    browser: httpx.Client, provider: OidcProvider, login: str, next_url: str = "/"
) -> httpx.Response:
    """Sign in through /sso/login and the provider's form; return vitalsign's callback answer.

    When the provider still has a session for this browser it asks nothing: the answer then
    comes straight back (the returned response's `history` is empty either way).
    """
    start = browser.get("/sso/login", params={"next": next_url})
    assert start.status_code == 302, start.text
    to_provider = start.headers["location"]
    assert to_provider.startswith(provider.issuer + "/auth?")
    assert "code_challenge_method=S256" in to_provider and "nonce=" in to_provider  # PKCE
    reply = follow(browser, browser.get(to_provider))
    if "/interaction/" not in str(reply.url):
        return reply
    assert "Sign in to the test provider" in reply.text
    action = provider.issuer + form_action(reply.text)
    submitted = browser.post(action, data={"login": login, "password": SSO_PASSWORD})
    assert submitted.status_code == 303, submitted.text
    return follow(browser, submitted)


def follow(browser: httpx.Client, reply: httpx.Response) -> httpx.Response:
    """Follow redirects until a page, or until vitalsign's callback answered (returned)."""
    for _ in range(10):
        if not reply.is_redirect:
            return reply
        location = str(reply.url.join(reply.headers["location"]))
        reply = browser.get(location)
        if "/sso/callback" in location:
            return reply
    raise AssertionError("too many redirects")
