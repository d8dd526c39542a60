"""Notes: stored with their author, audited as note.add, refused with the fix when wrong."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from vitalsign.errors import SnapshotError, VitalsignError
from vitalsign.store.notes import MAX_NOTE_CHARS, add_note, list_notes
from vitalsign.store.workspace import Workspace


def test_a_note_is_stored_newest_first_and_audited(tiny_workspace: Workspace) -> None:
    con = tiny_workspace.duckdb
    first = add_note(con, "A", "ann", "  Kick-off went well  ", at=dt.datetime(2024, 1, 2))
    second = add_note(con, "A", "bob", "Champion moves to EMEA", at=dt.datetime(2024, 2, 3))
    notes = list_notes(con, "A")
    assert [n.note_id for n in notes] == [second, first]
    assert notes[1].body == "Kick-off went well"  # trimmed
    assert list_notes(con, "B") == []
    audited = con.execute(
        "SELECT actor, subject, detail FROM audit_log WHERE action = 'note.add' ORDER BY logged_at"
    ).fetchall()
    assert [(a, s) for a, s, _ in audited] == [("ann", "A"), ("bob", "A")]
    assert json.loads(audited[1][2]) == {"note_id": second, "body": "Champion moves to EMEA"}


@pytest.mark.parametrize("body", ["", "   \n "])
def test_an_empty_note_is_refused_and_nothing_is_stored(
    tiny_workspace: Workspace, body: str
) -> None:
    with pytest.raises(VitalsignError, match="needs some text"):
        add_note(tiny_workspace.duckdb, "A", "ann", body)
    assert tiny_workspace.duckdb.execute("SELECT count(*) FROM notes").fetchone() == (0,)


def test_an_oversized_note_says_the_limit(tiny_workspace: Workspace) -> None:
    with pytest.raises(VitalsignError, match=f"at most {MAX_NOTE_CHARS:,}"):
        add_note(tiny_workspace.duckdb, "A", "ann", "x" * (MAX_NOTE_CHARS + 1))


def test_a_note_on_an_unknown_account_is_refused_unaudited(tiny_workspace: Workspace) -> None:
    con = tiny_workspace.duckdb
    with pytest.raises(SnapshotError, match="unknown account 'Z'"):
        add_note(con, "Z", "ann", "hello")
    assert con.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
