"""Contacts: the people of `users`, champion first, with their last product activity."""

from __future__ import annotations

from vitalsign.analytics.contacts import account_contacts
from vitalsign.store.workspace import Workspace
from world import load_tiny_world, ts


def test_contacts_list_the_champion_first_with_their_last_activity(
    workspace: Workspace,
) -> None:
    users = [
        ("u1", "A", ts(300), "pat@acme.example", "Analyst", False, False, None),
        ("u9", "A", ts(300), "kim@acme.example", "Head of Ops", True, False, None),
        ("u8", "A", ts(300), "lee@acme.example", "VP", False, True, ts(100)),
    ]
    load_tiny_world(workspace.duckdb)
    workspace.duckdb.executemany(
        "INSERT INTO users (user_id, account_id, created_at, email, role, is_champion, "
        "is_exec_sponsor, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        users,
    )
    contacts = account_contacts(workspace.duckdb, "A")
    assert [c.user_id for c in contacts] == ["u9", "u1", "u8"]  # champion, active, left
    assert contacts[0].is_champion and contacts[0].last_activity is None
    # u1's newest event in the tiny world is the login at T itself
    assert contacts[1].last_activity == ts(0)
    assert not contacts[2].active and contacts[2].to_dict()["left_at"] == ts(100).isoformat()
    assert account_contacts(workspace.duckdb, "B") == []
