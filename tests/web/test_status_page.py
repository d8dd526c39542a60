"""The /status page: each table's freshness and each source's syncs, for admins."""

from __future__ import annotations

from conftest import World


def test_an_admin_sees_each_tables_freshness_from_the_navigation(world: World) -> None:
    with world.login("root") as browser:
        portfolio = browser.get("/").text
        page = browser.get("/status").text
    assert '/status" class="">Status</a>' in portfolio
    assert 'id="status-tables"' in page and 'id="status-sources"' in page
    # the demo world's data ended in 2025: events are stale today, surveys never go stale
    assert '<tr class="state-stale"><td>events</td>' in page
    assert '<tr class="state-untracked"><td>surveys</td>' in page
    assert 'id="stale-now"' in page and "No ingest runs yet" in page
    assert f"Latest snapshot {world.latest}" in page


def test_other_roles_neither_see_nor_open_the_status_page(world: World) -> None:
    with world.login("maria") as browser:
        portfolio = browser.get("/").text
        refused = browser.get("/status")
    assert ">Status</a>" not in portfolio
    assert refused.status_code == 403
