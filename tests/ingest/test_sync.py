"""`vitalsign sync`: declared sources, incrementally, one failing source not stopping others."""

from __future__ import annotations

import os
from pathlib import Path

from ingest_support import count
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.ingest.sync import sync_workspace
from vitalsign.store.workspace import init_workspace, open_workspace

runner = CliRunner()
SOURCES = """sources:
  - name: crm
    path: data/accounts.csv
    into: accounts
    columns: {account_id: Id, name: Company, created_at: Since}
  - name: usage
    path: data/events-*.ndjson
    into: events
    mapping: mappings/events.yml
  - name: missing
    path: data/nothing-*.csv
    into: tickets
"""


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root).close()
    (root / "vitalsign.yml").write_text((root / "vitalsign.yml").read_text() + SOURCES)
    (root / "mappings").mkdir()
    (root / "mappings" / "events.yml").write_text(
        "columns:\n  event_id: id\n  account_id: account\n  timestamp: at\n  event: name\n"
    )
    data = root / "data"
    data.mkdir()
    (data / "accounts.csv").write_text("Id,Company,Since\na1,Acme,2023-01-01\n")
    (data / "events-1.ndjson").write_text(
        '{"id": "e1", "account": "a1", "at": "2024-01-01", "name": "login"}\n'
    )
    return root


def test_sync_loads_every_source_and_a_second_sync_reads_only_what_changed(
    tmp_path: Path,
) -> None:
    root = _workspace(tmp_path)
    first = sync_workspace(open_workspace(root), show_progress=False)
    results = {r.source: r for r in first.results}
    assert (results["crm"].loaded, results["usage"].loaded) == (1, 1)
    assert "no file matches" in str(results["missing"].error)
    assert not first.ok
    (root / "data" / "events-2.ndjson").write_text(
        '{"id": "e2", "account": "a1", "at": "2024-01-02", "name": "login"}\n'
        '{"id": "e3", "account": "zz", "at": "2024-01-02", "name": "login"}\n'
    )
    second = {r.source: r for r in sync_workspace(open_workspace(root), False).results}
    assert (second["crm"].files, second["crm"].read) == (0, 0)
    assert (second["usage"].files, second["usage"].read, second["usage"].loaded) == (1, 2, 1)
    assert second["usage"].quarantined == 1 and second["usage"].ok
    ws = open_workspace(root)
    assert count(ws, "SELECT count(*) FROM events") == 2
    ws.close()


def test_a_workspace_without_sources_syncs_to_an_empty_report(workspace: object) -> None:
    from vitalsign.store.workspace import Workspace

    assert isinstance(workspace, Workspace)
    report = sync_workspace(workspace, show_progress=False)
    assert report.results == [] and report.ok


def test_the_sync_command_prints_a_summary_and_fails_when_a_source_does(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    result = runner.invoke(app, ["sync", "-w", str(root)])
    assert result.exit_code == 1
    assert "crm" in result.output and "usage" in result.output and "error" in result.output
    key = runner.invoke(app, ["ingest-key", "-w", str(root)])
    rotated = runner.invoke(app, ["ingest-key", "--rotate", "-w", str(root)])
    assert key.output.startswith("vsk_") and rotated.output != key.output
    assert runner.invoke(app, ["ingest-key", "-w", str(root)]).output == rotated.output
    assert os.environ.get("VITALSIGN_WORKSPACE") is None


def test_a_source_with_a_known_format_needs_no_table(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    (root / "vitalsign.yml").write_text(
        (root / "vitalsign.yml").read_text()
        + "sources:\n  - name: segment\n    path: groups.ndjson\n    format: segment_group\n"
    )
    (root / "groups.ndjson").write_text(
        '{"type": "group", "groupId": "acme", "traits": {"name": "Acme"}, '
        '"timestamp": "2024-01-01T00:00:00Z"}\n'
    )
    report = sync_workspace(open_workspace(root), show_progress=False)
    assert report.ok and [(r.table, r.loaded) for r in report.results] == [("accounts", 1)]


def test_a_declared_source_s_runs_and_quarantined_rows_go_by_its_name(tmp_path: Path) -> None:
    """Trial 12 #3: under its name on /admin/sources, in `quarantine list --source`, in runs."""
    from vitalsign.ingest.files import load_file
    from vitalsign.ingest.run_history import source_summaries

    outside = tmp_path / "elsewhere" / "desk.csv"  # a file outside the workspace, absolute path
    outside.parent.mkdir()
    outside.write_text("Id,Org,Opened\nd1,a1,2024-02-01\nd2,nobody,2024-02-02\n")
    root = tmp_path / "ws"
    init_workspace(root).close()
    (root / "vitalsign.yml").write_text(
        (root / "vitalsign.yml").read_text()
        + f"sources:\n  - name: desk\n    path: {outside}\n    into: tickets\n"
        "    columns: {ticket_id: Id, account_id: Org, created_at: Opened}\n"
    )
    workspace = open_workspace(root)
    (root / "accounts.csv").write_text("Id,Name,Since\na1,Acme,2023-01-01\n")
    load_file(
        workspace,
        root / "accounts.csv",
        "accounts",
        {"account_id": "Id", "name": "Name", "created_at": "Since"},
    )
    (root / "other.csv").write_text("Id,Org,Opened\nt1,ghost,2024-01-01\n")  # loaded by hand
    load_file(
        workspace,
        root / "other.csv",
        "tickets",
        {"ticket_id": "Id", "account_id": "Org", "created_at": "Opened"},
    )
    desk_map = {"ticket_id": "Id", "account_id": "Org", "created_at": "Opened"}
    load_file(workspace, outside, "tickets", desk_map)  # as a sync before names were labels did
    sync_workspace(workspace, show_progress=False)  # adopts that run and its quarantined row
    outside.write_text(outside.read_text() + "d3,nobody,2024-02-03\n")  # a second sync reads it
    sync_workspace(workspace, show_progress=False)
    desk = next(s for s in source_summaries(workspace.duckdb, workspace) if s.declared == "desk")
    # the adopted load and two syncs; d2 re-read is found already quarantined (not pending twice)
    assert (desk.source, desk.table, desk.runs, desk.pending) == ("desk", "tickets", 3, 2)
    labels = workspace.duckdb.execute("SELECT DISTINCT source FROM ingest_runs").fetchall()
    assert str(outside) not in {label for (label,) in labels}
    sources = {r[0] for r in workspace.duckdb.execute("SELECT source FROM quarantine").fetchall()}
    assert sources == {"desk", str(root / "other.csv")}
    workspace.close()
    listed = runner.invoke(app, ["quarantine", "list", "--source", "desk", "-w", str(root)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("nobody") == 2 and "ghost" not in listed.output
    assert listed.output.strip().endswith("2 pending")  # the count follows the filter (not 3)
    none = runner.invoke(app, ["quarantine", "list", "--source", "crm", "-w", str(root)])
    assert "No quarantined rows match" in none.output
