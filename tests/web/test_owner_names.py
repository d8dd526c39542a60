"""Pages show owners by the name the owners table gives them, not by e-mail or CRM id."""

from __future__ import annotations

import html

from conftest import World
from vitalsign.store.workspace import Workspace
from vitalsign.web.owner_names import owner_names

CAROL = "carol@vendor.example"
NAME = "Carol Danvers"


def test_owner_names_map_emails_and_ids_of_named_owners(workspace: Workspace) -> None:
    workspace.duckdb.execute(
        "INSERT INTO owners (owner_id, email, name) VALUES "
        "('71', 'ann@vendor.example', 'Ann Lee'), ('72', NULL, 'Id Only'), "
        "('73', 'no.name@vendor.example', NULL)"
    )
    assert owner_names(workspace.duckdb) == {
        "71": "Ann Lee",
        "ann@vendor.example": "Ann Lee",
        "72": "Id Only",
    }


def test_pages_show_the_owner_name_and_keep_the_email_as_the_filter_value(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    account = con.execute(
        "SELECT account_id FROM scores WHERE snapshot_date = ? AND owner = ? "
        "ORDER BY account_id LIMIT 1",
        [world.latest, CAROL],
    ).fetchone()
    assert account is not None, "the demo world gives carol accounts"
    con.execute("INSERT INTO owners (owner_id, email, name) VALUES ('c-1', ?, ?)", [CAROL, NAME])
    try:
        with world.login("maria") as browser:
            portfolio = html.unescape(browser.get("/").text)
            listing = html.unescape(browser.get("/accounts", params={"owner": CAROL}).text)
            page = html.unescape(browser.get(f"/accounts/{account[0]}").text)
        assert NAME in portfolio
        assert f"<td>{NAME}</td>" in listing and f"<td>{CAROL}</td>" not in listing
        assert f'<option value="{CAROL}" selected>{NAME}</option>' in listing
        assert f"owner {NAME}" in page
    finally:
        con.execute("DELETE FROM owners WHERE owner_id = 'c-1'")
        con.close()
