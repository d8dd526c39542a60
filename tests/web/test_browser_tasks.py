"""A manual task and a bulk acknowledgement in headless Debian Chromium; screenshots in
tests/artifacts/ (manual-task.png, bulk-acknowledge.png). Skipped without /usr/bin/chromium.
"""

from __future__ import annotations

import pytest

from conftest import ALICE, ARTIFACTS, BOB, World, needs_chromium, sign_in

pytestmark = needs_chromium


def test_a_manager_creates_a_task_by_hand_on_the_account_page(
    chromium: object, world: World
) -> None:
    con = world.workspace.duckdb.cursor()
    account = con.execute(
        "SELECT account_id FROM scores WHERE snapshot_date = ? AND owner NOT IN (?, ?) "
        "ORDER BY score LIMIT 1",
        [world.latest, ALICE, BOB],
    ).fetchone()[0]
    page = sign_in(chromium, world.url, "maria")
    page.goto(f"{world.url}/accounts/{account}")
    page.fill("#new-task input[name=title]", "Book a call with the new champion")
    page.fill("#new-task input[name=due_date]", "2031-03-02")
    page.click("#new-task button[type=submit]")
    page.wait_for_selector("text=Book a call with the new champion")
    row = page.locator(".task-row", has_text="Book a call with the new champion")
    assert "due 2031-03-02" in row.inner_text() and "created by hand" in row.inner_text()
    page.locator("#tasks").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "manual-task.png"), full_page=True)
    stored = con.execute(
        "SELECT playbook, alert_id, CAST(due_date AS VARCHAR) FROM tasks "
        "WHERE title = 'Book a call with the new champion'"
    ).fetchall()
    assert stored == [("manual", None, "2031-03-02")]


def test_a_manager_acknowledges_several_alerts_at_once(chromium: object, world: World) -> None:
    con = world.workspace.duckdb.cursor()
    owner = con.execute(
        "SELECT owner FROM alerts WHERE status = 'open' AND owner NOT IN (?, ?) "
        "GROUP BY owner HAVING count(*) >= 3 ORDER BY count(*) DESC, owner LIMIT 1",
        [ALICE, BOB],
    ).fetchone()
    if owner is None:
        pytest.skip("no owner with three open alerts in this world")
    page = sign_in(chromium, world.url, "maria")
    page.goto(f"{world.url}/alerts?status=active&owner={owner[0]}")
    boxes = page.locator("input[name=alert_ids]")
    chosen = [boxes.nth(i).get_attribute("value") for i in range(2)]
    for i in range(2):
        boxes.nth(i).check()
    page.click("button.ack-selected")
    page.wait_for_selector("text=2 alerts acknowledged.")
    for alert_id in chosen:
        status = page.locator(f"tr[data-alert='{alert_id}'] .status").inner_text()
        assert "acknowledged" in status
    page.screenshot(path=str(ARTIFACTS / "bulk-acknowledge.png"), full_page=True)
    rows = con.execute(
        "SELECT status, acknowledged_by FROM alerts WHERE alert_id IN (SELECT UNNEST(?))",
        [chosen],
    ).fetchall()
    assert rows == [("acknowledged", "maria")] * 2
