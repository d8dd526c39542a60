"""The pages in headless Debian Chromium, driven by Playwright; screenshots in tests/artifacts/.

Covers signing in, the portfolio, filtering the account list, an account page, an override,
an alert acknowledgement and a csm refused another csm's account. Never downloads a browser:
it launches /usr/bin/chromium and is skipped when that is missing.
"""

from __future__ import annotations

from conftest import ALICE, ARTIFACTS, BOB, World, needs_chromium, sign_in

pytestmark = needs_chromium


def test_a_manager_signs_in_reads_filters_overrides_and_acknowledges(
    chromium: object, world: World
) -> None:
    con = world.workspace.duckdb.cursor()
    page = sign_in(chromium, world.url, "maria")

    # the portfolio: headline, KPIs and both charts drawn by the bundled plotly.js
    assert "ARR at risk" in page.inner_text("#headline")
    page.wait_for_selector("#chart-bands .main-svg")
    page.wait_for_selector("#chart-trend .main-svg")
    page.screenshot(path=str(ARTIFACTS / "portfolio.png"), full_page=True)

    # the account list filtered to the red band
    page.click("nav >> text=Accounts")
    page.select_option("select[name=band]", "red")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**band=red**")
    cells = page.locator("#accounts tbody tr td.band-cell > .band")  # not an override's note
    bands = cells.all_inner_texts()
    expected = con.execute(
        "SELECT count(*) FROM scores WHERE snapshot_date = ? AND band = 'red'", [world.latest]
    ).fetchone()[0]
    assert bands and set(bands) == {"red"} and len(bands) == min(expected, 20)
    page.screenshot(path=str(ARTIFACTS / "accounts-red.png"), full_page=True)

    # an account page: history with the model change marked, losses chart, raw values
    account = con.execute(
        "SELECT account_id FROM accounts WHERE owner = 'frank@vendor.example' "
        "AND account_id IN (SELECT account_id FROM scores WHERE snapshot_date = ?) "
        "ORDER BY account_id LIMIT 1",
        [world.latest],
    ).fetchone()[0]
    page.goto(f"{world.url}/accounts/{account}")
    page.wait_for_selector("#chart-history .main-svg")
    page.wait_for_selector("#chart-losses .main-svg")
    assert f"model {world.model_hashes[1][:8]}" in page.inner_text("#chart-history")
    assert page.locator("#signals tbody tr").count() >= 5

    # an override of the band, with reason and expiry, shown and audited
    form = page.locator("form.override-form[data-target=band]")
    form.locator("select[name=value]").select_option("red")
    form.locator("textarea[name=reason]").fill("Champion left; renewal at risk")
    form.locator("input[name=expires_on]").fill("2099-06-30")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Override recorded")
    assert "Champion left; renewal at risk" in page.inner_text("#overrides")
    assert "override.add" in page.inner_text("#audit")
    page.screenshot(path=str(ARTIFACTS / "account.png"), full_page=True)

    # an alert acknowledged from the inbox
    alert_id, owner = con.execute(
        "SELECT alert_id, owner FROM alerts WHERE status = 'open' AND owner NOT IN (?, ?) "
        "ORDER BY alert_id DESC LIMIT 1",
        [ALICE, BOB],
    ).fetchone()
    page.goto(f"{world.url}/alerts?status=active&owner={owner}")
    row = page.locator(f"tr[data-alert='{alert_id}']")
    row.locator("button.ack").click()
    page.wait_for_selector("text=Alert acknowledged")
    assert "acknowledged" in page.locator(f"tr[data-alert='{alert_id}'] .status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)
    status, by = con.execute(
        "SELECT status, acknowledged_by FROM alerts WHERE alert_id = ?", [alert_id]
    ).fetchone()
    assert (status, by) == ("acknowledged", "maria")
    page.close()


def test_a_csm_is_refused_another_csms_account_in_the_browser(
    chromium: object, world: World
) -> None:
    page = sign_in(chromium, world.url, "bob")
    reply = page.goto(f"{world.url}/accounts/{world.alice_account}")
    assert reply is not None and reply.status == 403
    assert "not in your book" in page.inner_text("main")
    page.screenshot(path=str(ARTIFACTS / "csm-refused.png"), full_page=True)
    page.goto(f"{world.url}/accounts")
    owners = set(page.locator("#accounts tbody tr td:nth-child(6)").all_inner_texts())
    assert owners == {BOB}
    page.close()
