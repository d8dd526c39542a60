"""Identity resolution: explicit account id, CRM id, e-mail domain, known user; else quarantine."""

from __future__ import annotations

from pathlib import Path

from ingest_support import add_account

from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import Mapping
from vitalsign.store.workspace import Workspace

MAPPING = Mapping.model_validate(
    {
        "columns": {
            "event_id": "id",
            "account_id": "acct",
            "timestamp": "at",
            "event": "what",
            "user_id": "user",
        },
        "identity": {"crm_id": "crm", "email": "email", "user_id": "user"},
    }
)


def test_each_rule_finds_the_account_and_unmatched_rows_are_quarantined(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "a1", crm_id="SF-1", domain="acme.com")
    add_account(workspace, "a2", crm_id="SF-2", domain="https://www.beta.io/home")
    add_account(workspace, "a3", domain="twin.com")
    add_account(workspace, "a4", domain="TWIN.com")
    workspace.duckdb.execute(
        "INSERT INTO users (user_id, account_id, created_at) VALUES ('u7', 'a2', '2023-01-01')"
    )
    source = tmp_path / "events.csv"
    source.write_text(
        "id,acct,crm,email,user,at,what\n"
        "e1,a1,,,,2024-01-01,login\n"  # explicit id
        "e2,zz,SF-2,,,2024-01-01,login\n"  # unknown id, then the CRM id
        "e3,,,Ann@Beta.io,,2024-01-01,login\n"  # e-mail domain (normalised URL on the account)
        "e4,,,,u7,2024-01-01,login\n"  # a known user
        "e5,,,bob@gmail.com,,2024-01-01,login\n"  # free mail never matches
        "e6,,,eve@twin.com,,2024-01-01,login\n"  # two accounts share the domain
        "e7,,,,,2024-01-01,login\n"  # nothing to go on
    )
    report = load_file(workspace, source, "events", MAPPING)
    assert (report.loaded, report.quarantined) == (4, 3)
    accounts = dict(workspace.duckdb.execute("SELECT event_id, account_id FROM events").fetchall())
    assert accounts == {"e1": "a1", "e2": "a2", "e3": "a2", "e4": "a2"}
    reasons = dict(workspace.duckdb.execute("SELECT line, reason FROM quarantine").fetchall())
    assert reasons[6].startswith("unknown account")
    assert reasons[7] == 'domain "twin.com" matches 2 accounts'
    assert reasons[8] == "account_id is missing (required): no identity value in the row"
