"""Owners: a CRM's owner ids are stored as the e-mails of the people the owners table names."""

from __future__ import annotations

import csv
from pathlib import Path

from ingest_support import count

from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import Mapping
from vitalsign.store.workspace import Workspace

HUBSPOT = Mapping(format="hubspot_companies")
ALICE = "alice@vendor.example"
BOB = "bob@vendor.example"


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _companies(path: Path, owners: list[str]) -> Path:
    """A HubSpot companies export: company i is owned by `owners[i]` (a HubSpot owner id)."""
    return _write_csv(
        path,
        [
            {
                "id": f"c{i}",
                "property_name": f"Company {i}",
                "property_createdate": "2023-01-01T00:00:00Z",
                "property_hubspot_owner_id": owner,
                "property_industry": "software",
                "property_lifecyclestage": "customer",
                "property_domain": f"company{i}.com",
            }
            for i, owner in enumerate(owners)
        ],
    )


def _owners(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    return _write_csv(path, [{"owner_id": o, "email": e, "name": n} for o, e, n in rows])


def _owner_of(workspace: Workspace) -> dict[str, str | None]:
    rows = workspace.duckdb.execute("SELECT account_id, owner FROM accounts").fetchall()
    return {str(a): o for a, o in rows}


def _history_owners(workspace: Workspace) -> list[tuple[str, str | None]]:
    return workspace.duckdb.execute(
        "SELECT account_id, owner FROM account_history ORDER BY account_id, recorded_at"
    ).fetchall()


def test_owners_loaded_later_turn_the_ids_in_accounts_and_history_into_emails(
    workspace: Workspace, tmp_path: Path
) -> None:
    companies = _companies(tmp_path / "company.csv", ["71", "72", "73"])
    load_file(workspace, companies, None, HUBSPOT)
    assert _owner_of(workspace) == {"c0": "71", "c1": "72", "c2": "73"}
    owners = _owners(
        tmp_path / "owners.csv",
        [("71", ALICE, "Alice Martin"), ("72", BOB, "Bob Stone"), ("73", "", "No Mail")],
    )
    report = load_file(workspace, owners, "owners")
    assert (report.read, report.inserted, report.quarantined) == (3, 3, 0)
    expected = {"c0": ALICE, "c1": BOB, "c2": "73"}  # without an e-mail the id stays
    assert _owner_of(workspace) == expected
    # A fix of how the owner is written, not a change of owner: no new version.
    assert _history_owners(workspace) == sorted(expected.items())

    again = load_file(workspace, companies, None, HUBSPOT)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert _owner_of(workspace) == expected
    assert count(workspace, "SELECT count(*) FROM account_history") == 3


def test_owners_loaded_first_make_accounts_store_emails_and_a_real_change_is_a_new_version(
    workspace: Workspace, tmp_path: Path
) -> None:
    load_file(
        workspace, _owners(tmp_path / "o.csv", [("71", ALICE, "A"), ("72", BOB, "B")]), "owners"
    )
    load_file(workspace, _companies(tmp_path / "c.csv", ["71", "72"]), None, HUBSPOT)
    assert _owner_of(workspace) == {"c0": ALICE, "c1": BOB}
    assert _history_owners(workspace) == [("c0", ALICE), ("c1", BOB)]

    moved = load_file(workspace, _companies(tmp_path / "c2.csv", ["72", "72"]), None, HUBSPOT)
    assert (moved.updated, moved.unchanged) == (1, 1)
    assert _owner_of(workspace) == {"c0": BOB, "c1": BOB}
    assert _history_owners(workspace) == [("c0", ALICE), ("c0", BOB), ("c1", BOB)]
    changed = workspace.duckdb.execute(
        "SELECT row_key, changed FROM ingest_changes WHERE target_table = 'accounts'"
    ).fetchall()
    assert changed == [("c0", "owner")]


def test_an_owner_whose_email_changes_takes_their_accounts_along(
    workspace: Workspace, tmp_path: Path
) -> None:
    load_file(workspace, _owners(tmp_path / "o.csv", [("71", ALICE, "Alice")]), "owners")
    load_file(workspace, _companies(tmp_path / "c.csv", ["71", "71"]), None, HUBSPOT)
    renamed = "alice.martin@vendor.example"
    report = load_file(
        workspace, _owners(tmp_path / "o2.csv", [("71", renamed, "Alice")]), "owners"
    )
    assert report.updated == 1
    assert _owner_of(workspace) == {"c0": renamed, "c1": renamed}
    assert {o for _, o in _history_owners(workspace)} == {renamed}


def test_an_owners_file_with_a_missing_id_is_quarantined_and_nothing_else_moves(
    workspace: Workspace, tmp_path: Path
) -> None:
    load_file(workspace, _companies(tmp_path / "c.csv", ["71"]), None, HUBSPOT)
    owners = _owners(tmp_path / "o.csv", [("", ALICE, "Alice"), ("72", BOB, "Bob")])
    report = load_file(workspace, owners, "owners")
    assert (report.inserted, report.quarantined) == (1, 1)
    assert _owner_of(workspace) == {"c0": "71"}
    reason = workspace.duckdb.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert reason == "owner_id is missing (required)"
