"""Notes a CSM writes about an account: stored in `notes`, audited, shown in its timeline.

>>> text = "Champion moves to EMEA in May"
>>> note_id = add_note(ws.duckdb, "acc-1", "alice", text)  # doctest: +SKIP
>>> [n.body for n in list_notes(ws.duckdb, "acc-1")]  # doctest: +SKIP
['Champion moves to EMEA in May']
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from vitalsign.errors import SnapshotError, VitalsignError
from vitalsign.store.overrides import audit
from vitalsign.store.transaction import transaction

MAX_NOTE_CHARS = 10_000  # a note is a few lines; a pasted document belongs elsewhere


@dataclass(frozen=True)
class Note:
    """One note: who wrote what about which account, and when (UTC)."""

    note_id: str
    account_id: str
    author: str
    body: str
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "note_id": self.note_id,
            "account_id": self.account_id,
            "author": self.author,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
        }


def clean_body(body: str) -> str:
    """Return the note's text trimmed, or refuse an empty or oversized note with the fix."""
    text = body.strip()
    if not text:
        raise VitalsignError("a note needs some text: write what happened or what to remember")
    if len(text) > MAX_NOTE_CHARS:
        raise VitalsignError(
            f"a note holds at most {MAX_NOTE_CHARS:,} characters ({len(text):,} given); "
            "shorten it or link to the document instead"
        )
    return text


def add_note(
    connection: Any, account_id: str, author: str, body: str, at: dt.datetime | None = None
) -> str:
    """Store a note about an account and audit it (note.add); return the note's id."""
    text = clean_body(body)
    known = connection.execute(
        "SELECT 1 FROM accounts WHERE account_id = ?", [account_id]
    ).fetchone()
    if known is None:
        raise SnapshotError(f"unknown account {account_id!r}: check the id on the account list")
    note_id = "note-" + uuid.uuid4().hex[:12]
    created = at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with transaction(connection):
        connection.execute(
            "INSERT INTO notes VALUES (?, ?, ?, ?, ?)", [note_id, account_id, author, text, created]
        )
        audit(connection, author, "note.add", account_id, {"note_id": note_id, "body": text})
    return note_id


def list_notes(connection: Any, account_id: str, limit: int = 500) -> list[Note]:
    """Return the account's notes, newest first."""
    rows = connection.execute(
        "SELECT note_id, account_id, author, body, created_at FROM notes "
        "WHERE account_id = ? ORDER BY created_at DESC, note_id LIMIT ?",
        [account_id, limit],
    ).fetchall()
    return [Note(*row) for row in rows]
