"""A red account's page in headless Debian Chromium: the largest loss first, what it would take.

Screenshot: tests/artifacts/account-red-why.png (and account-red-why-since.png with the
waterfall of what changed since the previous snapshot). Skipped without /usr/bin/chromium.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ARTIFACTS, World, needs_chromium, red_account, sign_in
from vitalsign.engine.why import why_account

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def page(chromium: object, world: World) -> object:
    """A Chromium page signed in as maria (a manager)."""
    return sign_in(chromium, world.url, "maria")


def test_a_red_account_page_shows_its_top_loss_first(page: object, world: World) -> None:
    con = world.workspace.duckdb.cursor()
    account = red_account(world)
    why = why_account(con, world.workspace.load_model(), account)
    top = why.losses[0]
    assert top.loss > 0 and top.loss >= max(s.loss for s in why.losses)
    p: Any = page  # playwright's Page
    p.goto(f"{world.url}/accounts/{account}")
    p.wait_for_selector("#chart-losses .main-svg")
    rows = p.locator("#signals tbody tr")
    assert rows.first.get_attribute("data-signal") == top.name
    shown = [float(t) for t in p.locator("#signals tbody td.loss").all_inner_texts()]
    assert shown == sorted(shown, reverse=True) and shown[0] == pytest.approx(top.loss, abs=0.01)
    # the best signal (largest contribution) is not on top on a red account
    best = max(why.losses, key=lambda s: s.contribution)
    if best.contribution > 0 and best.name != top.name:
        assert rows.first.get_attribute("data-signal") != best.name
    heading = p.inner_text("#next-band h2")
    assert heading.startswith("What it would take to reach") and "yellow" in heading
    # the losses chart draws a bar per signal in each of its two traces (loses, contributes)
    assert p.locator("#chart-losses .trace.bars").count() == 2
    p.screenshot(path=str(ARTIFACTS / "account-red-why.png"), full_page=True)

    # what changed since the previous snapshot: chosen on the page, drawn as a waterfall
    p.select_option("#changed-since select[name=since]", world.previous.isoformat())
    p.click("#changed-since button[type=submit]")
    p.wait_for_url(f"**since={world.previous.isoformat()}**")
    p.wait_for_selector("#chart-changes .main-svg")
    assert f"What changed since {world.previous}" in p.inner_text("#changed-since h2")
    p.screenshot(path=str(ARTIFACTS / "account-red-why-since.png"), full_page=True)
