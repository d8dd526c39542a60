"""Owners as people see them: the name from the `owners` table, else the e-mail (or id).

`accounts.owner` holds the owner's e-mail (docs/connectors.md, "Owners"); pages show the
name the owners table gives it. Scores recorded before the owners were loaded may still
carry a CRM owner id, so ids are looked up too. The names are read once per request, and
only by pages that show an owner.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from jinja2 import pass_context

from vitalsign.web.state import web_state

_CACHE_KEY = "vitalsign_owner_names"


def owner_names(connection: Any) -> dict[str, str]:
    """Return owner e-mail (and owner id) → name, for owners that have a name.

    >>> owner_names(workspace.duckdb)  # doctest: +SKIP
    {'alice@vendor.example': 'Alice Martin', '71': 'Alice Martin'}
    """
    rows = connection.execute(f"SELECT {OWNER_COLUMNS} FROM owners WHERE {NAMED}").fetchall()
    return names_of(rows)


OWNER_COLUMNS = "owner_id, email, name"
NAMED = "name IS NOT NULL AND name <> '' AND deleted_at IS NULL"  # the owners with a name


def names_of(rows: Iterable[tuple[Any, Any, Any]]) -> dict[str, str]:
    """Return owner e-mail (and owner id) → name from (owner_id, email, name) rows.

    In owner_id order (sorted here, cheaper than in SQL): an e-mail two owners share takes
    the name of the last.
    """
    names: dict[str, str] = {}
    for owner_id, email, name in sorted(rows, key=lambda r: str(r[0])):
        names.setdefault(str(owner_id), str(name))
        if email:
            names[str(email)] = str(name)
    return names


def keep_owner_names(request: Request, names: dict[str, str]) -> None:
    """Give the request the owner names a page already read (see `request_owner_names`)."""
    setattr(request.state, _CACHE_KEY, names)


def request_owner_names(request: Request) -> dict[str, str]:
    """The owner names for this request (read on first use, then kept on the request)."""
    found: dict[str, str] | None = getattr(request.state, _CACHE_KEY, None)
    if found is None:
        cursor = web_state(request).cursor()
        try:
            found = owner_names(cursor)
        finally:
            cursor.close()
        setattr(request.state, _CACHE_KEY, found)
    return found


@pass_context
def owner_name(context: Any, owner: Any) -> str:
    """Jinja filter: the owner's name when known, else the value itself ("—" when empty)."""
    if owner is None or owner == "" or (isinstance(owner, float) and math.isnan(owner)):
        return "—"
    text = str(owner)
    return request_owner_names(context["request"]).get(text, text)
