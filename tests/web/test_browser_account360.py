"""Account 360 and renewals in headless Debian Chromium; screenshots in tests/artifacts/.

The timeline of an account, a note written with the page's form (and the timeline filtered
to notes), and the renewals page with its chart drawn by the bundled plotly.js.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import PASSWORD, World

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is not installed (run scripts/install-system-deps.sh)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _sign_in(browser: object, world: World, user: str) -> object:
    page = browser.new_page(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    page.set_default_timeout(20_000)
    page.goto(f"{world.url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{world.url}/")
    return page


def test_a_csm_reads_the_timeline_and_adds_a_note(browser: object, world: World) -> None:
    account = world.alice_account
    page = _sign_in(browser, world, "alice")
    page.goto(f"{world.url}/accounts/{account}")
    assert page.inner_text("#renewal-date") != ""
    page.locator("#account-360").screenshot(path=str(ARTIFACTS / "account-360.png"))
    page.click("#timeline-link")
    page.wait_for_url(f"{world.url}/accounts/{account}/timeline")
    timeline = page.locator("#timeline")
    kinds = set(
        timeline.locator("li[data-kind]").evaluate_all("els => els.map(e => e.dataset.kind)")
    )
    assert {"score", "alert", "invoice"} <= kinds
    page.screenshot(path=str(ARTIFACTS / "timeline.png"), full_page=True)

    text = "Browser note: champion asked for an exec review"
    page.fill("#note-form textarea[name=body]", text)
    page.locator("#note-form").screenshot(path=str(ARTIFACTS / "note-typed.png"))
    page.click("#note-form button[type=submit]")
    page.wait_for_url(re.compile(r".*#timeline$"))
    first = page.locator("#timeline li[data-kind]").first
    assert first.get_attribute("data-kind") == "note" and text in first.inner_text()

    page.check("#timeline-filter input[value=note]")
    page.click("#timeline-filter button[type=submit]")
    page.wait_for_url(re.compile(r".*kind=note.*"))
    shown = set(
        page.locator("#timeline li[data-kind]").evaluate_all("els => els.map(e => e.dataset.kind)")
    )
    assert shown == {"note"}
    page.locator("#timeline").screenshot(path=str(ARTIFACTS / "note.png"))
    page.close()


def test_a_manager_reads_the_renewals_page(browser: object, world: World) -> None:
    page = _sign_in(browser, world, "maria")
    page.click("nav >> text=Renewals")
    page.wait_for_url(f"{world.url}/renewals")
    rows = page.locator("#windows tbody tr").count()
    assert rows == 4
    if page.locator("#chart-renewal-months").count():
        page.wait_for_selector("#chart-renewal-months .main-svg")
    listed = page.locator("#renewals tbody tr").count()
    accounts_in_180 = int(page.inner_text("#windows tbody tr[data-days='180'] td:nth-child(2)"))
    assert listed == accounts_in_180
    page.screenshot(path=str(ARTIFACTS / "renewals.png"), full_page=True)
    page.close()
