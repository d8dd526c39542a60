"""Identical events without an id stay as many as the source holds, and never twice."""

from __future__ import annotations

from pathlib import Path

from ingest_support import add_account, count

from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import Mapping
from vitalsign.store.workspace import Workspace

HEADER = "account_id,timestamp,event,user_id\n"
CLICK = "a1,2024-01-01T10:00:00,login,u1\n"
OTHER = "a1,2024-01-01T10:00:01,login,u1\n"


def _ids(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.duckdb.execute("SELECT event_id FROM events ORDER BY 1").fetchall()]


def test_three_identical_clicks_in_one_file_are_three_events_and_a_reload_adds_none(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "a1")
    path = tmp_path / "events.csv"
    path.write_text(HEADER + CLICK + OTHER + CLICK + CLICK, encoding="utf-8")
    first = load_file(workspace, path, "events")
    assert (first.read, first.inserted, first.unchanged) == (4, 4, 0)
    ids = _ids(workspace)
    base = next(i for i in ids if i + ":2" in ids)
    assert {base, base + ":2", base + ":3"} <= set(ids) and len(set(ids)) == 4
    again = load_file(workspace, path, "events")
    assert (again.inserted, again.unchanged) == (0, 4)
    path.write_text(HEADER + CLICK * 4, encoding="utf-8")
    more = load_file(workspace, path, "events")
    assert (more.inserted, more.unchanged) == (1, 3)
    assert count(workspace, "SELECT count(*) FROM events") == 5
    assert base + ":4" in _ids(workspace)


def test_an_id_stored_before_numbering_still_matches_the_first_copy(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "a1")
    path = tmp_path / "events.csv"
    path.write_text(HEADER + CLICK, encoding="utf-8")
    load_file(workspace, path, "events")
    (stored,) = _ids(workspace)
    assert stored.startswith("h:") and stored.count(":") == 1  # the plain hash, as before
    path.write_text(HEADER + CLICK + CLICK, encoding="utf-8")
    report = load_file(workspace, path, "events")
    assert (report.inserted, report.unchanged) == (1, 1)
    assert _ids(workspace) == [stored, stored + ":2"]


def test_copies_are_numbered_on_the_staged_path_too(workspace: Workspace, tmp_path: Path) -> None:
    add_account(workspace, "a1")
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,account_id,timestamp,event,user_id\n"
        ",a1,2024-01-01T10:00:00,login,u1\n"
        ",a1,2024-01-01T10:00:00,login,u1\n"
        "e1,a1,2024-01-01T10:00:00,login,u1\n"
        "e1,a1,2024-01-01T11:00:00,login,u1\n",
        encoding="utf-8",
    )
    mapping = Mapping.model_validate({"prefer": "timestamp"})  # takes the staged path
    report = load_file(workspace, path, "events", mapping)
    assert (report.read, report.inserted, report.unchanged) == (4, 3, 1)
    ids = _ids(workspace)
    assert ids[0] == "e1" and ids[2] == ids[1] + ":2"
    kept = workspace.duckdb.execute("SELECT timestamp FROM events WHERE event_id = 'e1'")
    assert str(kept.fetchone()[0]) == "2024-01-01 11:00:00"
    again = load_file(workspace, path, "events", mapping)
    assert (again.inserted, again.unchanged) == (0, 4)
