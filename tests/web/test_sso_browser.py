"""Single sign-on in headless Debian Chromium: "Sign in with …", the provider's form, and back.

The provider is the npm oidc-provider (sso_world.py); screenshots go to tests/artifacts/.
The pages' Content-Security-Policy must let the sign-in and sign-out forms lead on to the
provider (form-action), which only a real browser checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sso_world import PROVIDER, SSO_PASSWORD, SsoWorld, served_sso_world

from conftest import ARTIFACTS, needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoWorld]:
    """The provider and vitalsign with web.sso, for this module."""
    with served_sso_world(tmp_path_factory.mktemp("sso-browser") / "ws") as world:
        yield world


def test_a_person_signs_in_with_the_provider_and_out_again(chromium: object, sso: SsoWorld) -> None:
    page = chromium.new_page(viewport={"width": 1200, "height": 800})  # type: ignore[attr-defined]
    page.set_default_timeout(20_000)
    page.goto(f"{sso.url}/alerts")  # a stranger is sent to sign in, and back here after
    page.wait_for_url("**/login?next=%2Falerts")
    assert page.locator("input[name=password]").count() == 0  # local passwords are off
    page.screenshot(path=str(ARTIFACTS / "sso-login.png"), full_page=True)

    page.click(f"text=Sign in with {PROVIDER}")
    page.wait_for_url(f"{sso.provider.issuer}/interaction/**")
    page.fill("input[name=login]", "carl")
    page.fill("input[name=password]", SSO_PASSWORD)
    page.screenshot(path=str(ARTIFACTS / "sso-provider.png"), full_page=True)
    page.click("#provider-submit")
    page.wait_for_url(f"{sso.url}/alerts")
    assert page.inner_text(".who .user") == "carl@vendor.example"
    assert "csm" in page.inner_text(".who .role")
    page.screenshot(path=str(ARTIFACTS / "sso-signed-in.png"), full_page=True)

    page.click("text=Sign out")  # vitalsign's session ends, then the provider asks
    page.wait_for_url(f"{sso.provider.issuer}/session/end**")
    page.click("text=Yes, sign me out")
    page.wait_for_url(f"{sso.url}/login**")
    assert page.locator(f"text=Sign in with {PROVIDER}").count() == 1
    page.goto(f"{sso.url}/alerts")
    page.wait_for_url("**/login?next=%2Falerts")  # signed out for real
    page.close()
