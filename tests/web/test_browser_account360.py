"""Account 360 and renewals in headless Debian Chromium; screenshots in tests/artifacts/.

The timeline of an account, a note written with the page's form (and the timeline filtered
to notes), and the renewals page with its chart drawn by the bundled plotly.js.
"""

from __future__ import annotations

import re

from conftest import ARTIFACTS, World, needs_chromium, sign_in

pytestmark = needs_chromium


def test_a_csm_reads_the_timeline_and_adds_a_note(chromium: object, world: World) -> None:
    account = world.alice_account
    page = sign_in(chromium, world.url, "alice")
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


def test_a_manager_reads_the_renewals_page(chromium: object, world: World) -> None:
    page = sign_in(chromium, world.url, "maria")
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
