"""Ingest takes changes: updates, unchanged rows, snapshot deletes, and what changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_support import count
from typer.testing import CliRunner

from live_world import live_workspace
from vitalsign.cli import app
from vitalsign.errors import IngestError
from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import parse_mapping
from vitalsign.ingest.runs import LoadReport
from vitalsign.ingest.staging import LoadOptions
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace

HEADER = "account_id,name,created_at,owner,segment,arr,renewal_date\n"


def _accounts(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _balanced(report: LoadReport) -> LoadReport:
    counted = report.inserted + report.updated + report.unchanged + report.quarantined
    assert report.read == counted, report
    return report


def _rows(n: int, owner: str = "ann@acme.test", arr: float = 1000.0) -> list[str]:
    return [f"a{i},Acct {i},2023-01-01,{owner},smb,{arr + i},2025-06-01" for i in range(n)]


def test_a_changed_row_is_updated_and_an_identical_one_is_unchanged(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = _balanced(load_file(workspace, _accounts(tmp_path / "a.csv", _rows(10)), "accounts"))
    assert (first.inserted, first.updated, first.unchanged) == (10, 0, 0)
    changed = _rows(10)
    changed[3] = "a3,Acct 3,2023-01-01,bob@acme.test,enterprise,5000,2025-09-01"
    changed.append("a10,Acct 10,2023-02-01,ann@acme.test,smb,10,2025-06-01")
    again = _balanced(load_file(workspace, _accounts(tmp_path / "b.csv", changed), "accounts"))
    assert (again.read, again.inserted, again.updated, again.unchanged) == (11, 1, 1, 9)
    row = workspace.duckdb.execute(
        "SELECT owner, segment, arr, renewal_date FROM accounts WHERE account_id = 'a3'"
    ).fetchone()
    assert row[:3] == ("bob@acme.test", "enterprise", 5000.0) and str(row[3]) == "2025-09-01"
    assert count(workspace, "SELECT count(*) FROM accounts") == 11
    changes = workspace.duckdb.execute(
        "SELECT row_key, action, changed FROM ingest_changes WHERE run_id = ?", [again.run_id]
    ).fetchall()
    assert changes == [("a3", "updated", "owner, segment, arr, renewal_date")]
    runs = workspace.duckdb.execute(
        "SELECT rows_read, rows_inserted, rows_updated, rows_unchanged, rows_quarantined "
        "FROM ingest_runs WHERE run_id = ?",
        [again.run_id],
    ).fetchone()
    assert runs == (11, 1, 1, 9, 0)


def test_a_source_that_maps_fewer_columns_leaves_the_others_alone(
    workspace: Workspace, tmp_path: Path
) -> None:
    load_file(workspace, _accounts(tmp_path / "a.csv", _rows(3)), "accounts")
    partial = tmp_path / "owners.csv"
    partial.write_text(
        "id,title,since,csm\n"
        "a1,Acct 1,2023-01-01,carl@acme.test\n"
        "a2,Acct 2,2023-01-01,ann@acme.test\n",
        encoding="utf-8",
    )
    mapping = {"account_id": "id", "name": "title", "created_at": "since", "owner": "csm"}
    report = _balanced(load_file(workspace, partial, "accounts", mapping))
    assert (report.updated, report.unchanged) == (1, 1)
    row = workspace.duckdb.execute(
        "SELECT owner, arr, segment, created_at FROM accounts WHERE account_id = 'a1'"
    ).fetchone()
    assert row[:3] == ("carl@acme.test", 1001.0, "smb") and row[3] is not None


def test_within_one_file_the_last_copy_of_a_key_wins(workspace: Workspace, tmp_path: Path) -> None:
    rows = [f"t{i},a1,2024-01-0{1 + i % 3},low,open,first" for i in range(50)]
    rows += [f"t{i},a1,2024-01-0{1 + i % 3},urgent,open,second" for i in range(50)]
    workspace.duckdb.execute(
        "INSERT INTO accounts (account_id, name, created_at) VALUES ('a1', 'A', '2023-01-01')"
    )
    source = tmp_path / "tickets.csv"
    source.write_text(
        "ticket_id,account_id,created_at,priority,status,subject\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    report = _balanced(load_file(workspace, source, "tickets"))
    assert (report.inserted, report.unchanged, report.repeated) == (50, 50, 50)
    assert "unchanged 50 (50 repeated a key: the last copy won)" in report.summary()
    recorded = workspace.duckdb.execute(
        "SELECT rows_repeated FROM ingest_runs WHERE run_id = ?", [report.run_id]
    ).fetchone()
    assert recorded == (50,)
    kept = workspace.duckdb.execute("SELECT DISTINCT subject, priority FROM tickets").fetchall()
    assert kept == [("second", "urgent")]


def test_a_snapshot_marks_absent_keys_deleted_and_refuses_to_drop_too_many(
    workspace: Workspace, tmp_path: Path
) -> None:
    load_file(workspace, _accounts(tmp_path / "a.csv", _rows(10)), "accounts")
    snapshot = LoadOptions(snapshot=True)
    eight = _accounts(tmp_path / "b.csv", _rows(8))
    report = _balanced(load_file(workspace, eight, "accounts", options=snapshot))
    assert (report.unchanged, report.deleted) == (8, 2)
    deleted = workspace.duckdb.execute(
        "SELECT account_id FROM accounts WHERE deleted_at IS NOT NULL ORDER BY 1"
    ).fetchall()
    assert deleted == [("a8",), ("a9",)]
    assert count(workspace, "SELECT count(*) FROM accounts") == 10  # kept, not removed
    before = workspace.duckdb.execute("SELECT * FROM accounts ORDER BY account_id").fetchall()
    three = _accounts(tmp_path / "c.csv", _rows(3))  # 5 of 8 live rows would go: 62 %
    with pytest.raises(
        IngestError,
        match=r"c.csv: this snapshot of accounts lacks 5 of its 8 live rows .*--allow-deletes",
    ):
        load_file(workspace, three, "accounts", options=snapshot)
    assert (
        workspace.duckdb.execute("SELECT * FROM accounts ORDER BY account_id").fetchall() == before
    )
    allowed = load_file(workspace, three, "accounts", options=LoadOptions(True, allow_deletes=True))
    assert allowed.deleted == 5
    back = _balanced(load_file(workspace, _accounts(tmp_path / "d.csv", _rows(4)), "accounts"))
    assert (back.updated, back.unchanged) == (1, 3)  # a3 reappears: restored
    assert count(workspace, "SELECT count(*) FROM accounts WHERE deleted_at IS NULL") == 4


def test_events_stay_append_only(workspace: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text("event_id,account_id,timestamp,event\n", encoding="utf-8")
    with pytest.raises(IngestError, match="append-only"):
        load_file(workspace, source, "events", options=LoadOptions(snapshot=True))


def test_the_ingest_command_reports_changes_and_takes_snapshot_options(
    workspace: Workspace, tmp_path: Path
) -> None:
    root = str(workspace.root)
    workspace.close()
    runner = CliRunner()
    first = runner.invoke(
        app,
        ["ingest", str(_accounts(tmp_path / "a.csv", _rows(10))), "--into", "accounts", "-w", root],
    )
    assert "read 10: inserted 10, updated 0, unchanged 0, quarantined 0" in first.output
    two = str(_accounts(tmp_path / "b.csv", _rows(2)))
    refused = runner.invoke(app, ["ingest", two, "--into", "accounts", "--snapshot", "-w", root])
    assert refused.exit_code == 1 and "b.csv: this snapshot" in str(refused.exception)
    done = runner.invoke(
        app,
        ["ingest", two, "--into", "accounts", "--snapshot", "--allow-deletes", "-w", root],
    )
    assert done.exit_code == 0 and "unchanged 2, quarantined 0, deleted 8" in done.output


def test_a_known_format_with_a_mapped_custom_field_fills_and_updates_it(tmp_path: Path) -> None:
    ws = live_workspace(tmp_path / "ws", "name: m\n")  # the model is not read here
    companies = tmp_path / "companies.csv"
    header = (
        "id,property_name,property_createdate,property_domain,property_hubspot_owner_id,"
        "property_industry,property_lifecyclestage,property_tier\n"
    )
    map_tier = {"format": "hubspot_companies", "columns": {"tier": "property_tier"}}
    mapping = parse_mapping(map_tier, "test")
    companies.write_text(
        header + "101,Acme,2023-01-01,acme.test,7,saas,customer,silver\n", encoding="utf-8"
    )
    assert _balanced(load_file(ws, companies, None, mapping)).inserted == 1
    companies.write_text(
        header + "101,Acme,2023-01-01,acme.test,7,saas,customer,gold\n", encoding="utf-8"
    )
    assert _balanced(load_file(ws, companies, None, mapping)).updated == 1
    tiers = ws.duckdb.execute(
        "SELECT tier FROM account_history WHERE account_id = '101' ORDER BY valid_from NULLS FIRST"
    ).fetchall()
    assert tiers == [("silver",), ("gold",)]


def _crm(path: Path, rows: list[str]) -> Path:
    path.write_text("account_id,name,created_at,owner,updated_at\n" + "\n".join(rows) + "\n")
    return path


def test_an_older_export_and_a_new_modified_time_alone_change_nothing(
    workspace: Workspace, tmp_path: Path
) -> None:
    june = _crm(tmp_path / "june.csv", ["a1,A,2023-01-01,bob,2024-06-01"])
    may = _crm(tmp_path / "may.csv", ["a1,A,2023-01-01,ann,2024-05-01"])
    touched = _crm(tmp_path / "july.csv", ["a1,A,2023-01-01,bob,2024-07-01"])
    load_file(workspace, june, "accounts")
    assert _balanced(load_file(workspace, may, "accounts")).unchanged == 1  # older: ignored
    assert _balanced(load_file(workspace, touched, "accounts")).unchanged == 1  # time only
    row = workspace.duckdb.execute("SELECT owner, updated_at FROM accounts").fetchone()
    assert (row[0], str(row[1])) == ("bob", "2024-06-01 00:00:00")
    assert count(workspace, "SELECT count(*) FROM account_history") == 1


def test_the_share_a_snapshot_deletes_is_measured_before_its_new_rows(
    workspace: Workspace, tmp_path: Path
) -> None:
    load_file(workspace, _accounts(tmp_path / "a.csv", _rows(100)), "accounts")
    renumbered = _rows(75) + [r.replace("a", "b", 1) for r in _rows(100)[75:]]
    with pytest.raises(IngestError, match="lacks 25 of its 100 live rows"):
        load_file(
            workspace,
            _accounts(tmp_path / "b.csv", renumbered),
            "accounts",
            options=LoadOptions(snapshot=True),
        )
    assert count(workspace, "SELECT count(*) FROM accounts") == 100


def test_identity_ignores_accounts_a_snapshot_deleted(workspace: Workspace, tmp_path: Path) -> None:
    both = tmp_path / "crm.csv"
    both.write_text(
        "account_id,name,created_at,domain\na1,Acme,2023-01-01,acme.com\n"
        "a2,Acme (duplicate),2023-01-01,acme.com\n",
        encoding="utf-8",
    )
    load_file(workspace, both, "accounts")
    merged = tmp_path / "merged.csv"
    merged.write_text(
        "account_id,name,created_at,domain\na1,Acme,2023-01-01,acme.com\n", encoding="utf-8"
    )
    load_file(workspace, merged, "accounts", options=LoadOptions(True, allow_deletes=True))
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("ticket_id,created_at,email\nt1,2024-01-01,pat@acme.com\n", encoding="utf-8")
    mapping = parse_mapping(
        {
            "columns": {"ticket_id": "ticket_id", "created_at": "created_at"},
            "identity": {"email": "email"},
        },
        "test",
    )
    report = _balanced(load_file(workspace, tickets, "tickets", mapping))
    assert report.inserted == 1
    assert workspace.duckdb.execute("SELECT account_id FROM tickets").fetchone() == ("a1",)


def test_an_ingest_runs_table_of_the_earlier_release_is_migrated(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    ws.duckdb.execute("DROP TABLE ingest_runs")
    ws.duckdb.execute(  # the layout before updates existed
        "CREATE TABLE ingest_runs (run_id VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, "
        "target_table VARCHAR NOT NULL, kind VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, "
        "finished_at TIMESTAMP, status VARCHAR NOT NULL, rows_read BIGINT NOT NULL, "
        "rows_loaded BIGINT NOT NULL, rows_duplicates BIGINT NOT NULL, "
        "rows_quarantined BIGINT NOT NULL, detail VARCHAR NOT NULL)"
    )
    ws.duckdb.execute(
        "INSERT INTO ingest_runs VALUES ('old', 'f.csv', 'accounts', 'file', now(), now(), "
        "'ok', 3, 2, 1, 0, '{}')"
    )
    ws.close()
    ws = open_workspace(tmp_path / "ws")
    report = _balanced(load_file(ws, _accounts(tmp_path / "a.csv", _rows(2)), "accounts"))
    runs = ws.duckdb.execute(
        "SELECT run_id, rows_inserted, rows_unchanged, rows_updated FROM ingest_runs ORDER BY 1"
    ).fetchall()
    assert sorted(runs) == sorted([("old", 2, 1, 0), (report.run_id, 2, 0, 0)])
