"""`vitalsign status`: each table's newest row and last sync, stale or not under the model."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.engine.status import workspace_status
from vitalsign.store.workspace import Workspace

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _ingest(root: Path, path: Path, table: str) -> None:
    result = runner.invoke(app, ["ingest", str(path), "--into", table, "-w", str(root)])
    assert result.exit_code == 0, result.output


def _world(workspace: Workspace, tmp_path: Path) -> Path:
    """Accounts, fresh events (an hour old) and old tickets (30 days), loaded from real files."""
    root = workspace.root
    workspace.close()
    old = NOW - dt.timedelta(days=400)
    accounts = _write_csv(
        tmp_path / "accounts.csv",
        "account_id,name,created_at",
        [f"a{i},Account {i},{old:%Y-%m-%d %H:%M:%S}" for i in range(3)],
    )
    _ingest(root, accounts, "accounts")
    hour_ago = NOW - dt.timedelta(hours=1)
    events = _write_csv(
        tmp_path / "events.csv",
        "event_id,account_id,timestamp,event",
        [f"e{i},a{i % 3},{hour_ago:%Y-%m-%d %H:%M:%S},login" for i in range(6)],
    )
    _ingest(root, events, "events")
    month_ago = NOW - dt.timedelta(days=30)
    tickets = _write_csv(
        tmp_path / "tickets.csv",
        "ticket_id,account_id,created_at",
        [f"t{i},a{i},{month_ago:%Y-%m-%d %H:%M:%S}" for i in range(2)],
    )
    _ingest(root, tickets, "tickets")
    return root


def test_status_shows_each_table_fresh_or_stale_and_each_sources_last_sync(
    workspace: Workspace, tmp_path: Path
) -> None:
    root = _world(workspace, tmp_path)
    result = runner.invoke(app, ["status", "-w", str(root), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    tables = {t["table"]: t for t in found["tables"]}
    assert tables["events"]["state"] == "fresh" and tables["events"]["rows"] == 6
    assert tables["tickets"]["state"] == "stale"  # 30 days old, allowed 14 by default
    assert tables["tickets"]["allowed_days"] == 14
    assert tables["surveys"]["state"] == "empty"
    assert tables["accounts"]["state"] == "untracked"
    assert tables["events"]["last_sync"] is not None  # the ingest run just now
    sources = {s["table"]: s for s in found["sources"]}
    assert sources["events"]["source"].endswith("events.csv")
    assert sources["events"]["last_status"] == "ok" and sources["events"]["last_ok"]

    text = runner.invoke(app, ["status", "-w", str(root)])
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())
    assert "stale tickets: newest row" in flat and "(allowed 14)" in flat
    assert "stale events" not in flat
    assert "Sources (ingest runs)" in text.output and "ok" in flat


def test_a_failed_sync_is_shown_beside_the_last_successful_one(
    workspace: Workspace, tmp_path: Path
) -> None:
    root = _world(workspace, tmp_path)
    broken = _write_csv(tmp_path / "events.csv", "nothing,useful", ["1,2"])
    result = runner.invoke(app, ["ingest", str(broken), "--into", "events", "-w", str(root)])
    assert result.exit_code != 0
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(root)
    status = workspace_status(ws.duckdb, ws.load_model().spec, NOW + dt.timedelta(minutes=1))
    events = next(s for s in status.sources if s.table == "events")
    assert events.last_status == "failed" and events.runs == 2
    assert events.last_ok is not None and events.last_run is not None
    assert events.last_ok < events.last_run
    ws.close()


def test_a_model_can_declare_a_table_never_stale(workspace: Workspace, tmp_path: Path) -> None:
    root = _world(workspace, tmp_path)
    model = root / "models" / "default.yml"
    model.write_text(
        model.read_text(encoding="utf-8") + "\nfreshness: {tickets: never, events: 1d}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["status", "-w", str(root), "--json"])
    tables = {t["table"]: t for t in json.loads(result.output)["tables"]}
    assert tables["tickets"]["state"] == "untracked" and tables["events"]["allowed_days"] == 1
