"""The quarantine: list, show and retry, from Python and from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from ingest_support import add_account, count
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.ingest.files import load_file
from vitalsign.ingest.quarantine import list_quarantine, retry_quarantine, show_quarantined
from vitalsign.store.workspace import Workspace

runner = CliRunner()
TICKETS = "Id,Org,Opened\nt1,a1,2024-01-01\nt2,a9,2024-01-02\nt3,a9,2024-01-03\nt4,a1,yesterday\n"
MAPPING = {"ticket_id": "Id", "account_id": "Org", "created_at": "Opened"}


def _load(workspace: Workspace, tmp_path: Path) -> None:
    add_account(workspace, "a1")
    source = tmp_path / "tickets.csv"
    source.write_text(TICKETS)
    report = load_file(workspace, source, "tickets", MAPPING)
    assert (report.loaded, report.quarantined) == (1, 3)


def test_quarantined_rows_keep_source_line_raw_values_and_reason(
    workspace: Workspace, tmp_path: Path
) -> None:
    _load(workspace, tmp_path)
    rows = list_quarantine(workspace, table="tickets")
    assert {r.line for r in rows} == {3, 4, 5}
    unknown = next(r for r in rows if r.line == 3)
    assert unknown.raw == {"Id": "t2", "Org": "a9", "Opened": "2024-01-02"}
    assert unknown.reason == 'unknown account: no account matches account_id "a9"'
    assert unknown.source.endswith("tickets.csv") and unknown.status == "pending"
    assert show_quarantined(workspace, unknown.quarantine_id) == unknown


def test_retry_loads_rows_once_their_account_exists_and_keeps_the_others(
    workspace: Workspace, tmp_path: Path
) -> None:
    _load(workspace, tmp_path)
    add_account(workspace, "a9")
    reports = retry_quarantine(workspace)
    assert [(r.read, r.loaded, r.unchanged, r.quarantined) for r in reports] == [(3, 2, 0, 1)]
    assert count(workspace, "SELECT count(*) FROM tickets") == 3
    statuses = dict(workspace.duckdb.execute("SELECT line, status FROM quarantine").fetchall())
    assert statuses == {3: "loaded", 4: "loaded", 5: "pending"}
    assert retry_quarantine(workspace)[0].loaded == 0  # the bad date stays quarantined


def test_the_quarantine_commands_list_show_and_retry(workspace: Workspace, tmp_path: Path) -> None:
    _load(workspace, tmp_path)
    ws = str(workspace.root)
    listed = runner.invoke(app, ["quarantine", "list", "-w", ws])
    assert listed.exit_code == 0, listed.output
    assert "3 pending" in listed.output and "yesterday" in listed.output
    first = list_quarantine(workspace)[0].quarantine_id
    shown = runner.invoke(app, ["quarantine", "show", str(first), "-w", ws])
    assert shown.exit_code == 0 and json.loads(shown.output)["quarantine_id"] == first
    missing = runner.invoke(app, ["quarantine", "show", "999", "-w", ws])
    assert missing.exit_code == 1
    add_account(workspace, "a9")
    workspace.close()
    retried = runner.invoke(app, ["quarantine", "retry", "-w", ws])
    assert retried.exit_code == 0, retried.output
    assert "inserted 2" in retried.output and "still quarantined 1" in retried.output


def test_the_ingest_command_takes_a_glob_a_format_and_identity_maps(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,name,dom,since\nx1,Xylo,xylo.com,2023-01-01\n")
    (data / "b.csv").write_text("id,name,dom,since\nx2,Yak,yak.io,2023-01-01\n")
    out = runner.invoke(
        app,
        [
            "ingest",
            str(data / "*.csv"),
            "--into",
            "accounts",
            "--map",
            "account_id=id",
            "--map",
            "created_at=since",
            "--map",
            "domain=dom",
            "-w",
            str(ws),
        ],
    )
    assert out.exit_code == 0, out.output
    assert out.output.count("inserted 1") == 2
    (data / "e.csv").write_text("who,when,what\nbob@yak.io,2024-01-01,login\n")
    out = runner.invoke(
        app,
        [
            "ingest",
            str(data / "e.csv"),
            "--into",
            "events",
            "--map",
            "identity.email=who",
            "--map",
            "timestamp=when",
            "--map",
            "event=what",
            "-w",
            str(ws),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "inserted 1" in out.output
    bad = runner.invoke(app, ["ingest", str(data / "e.csv"), "--format", "nope", "-w", str(ws)])
    assert bad.exit_code == 1
