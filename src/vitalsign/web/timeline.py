"""Account 360 on the web: the timeline, notes, contacts and renewal of an account.

The account page includes `_timeline.html` with `account_360`'s context: the renewal and a
link to the account's timeline page. The timeline reads a dozen
tables (the weekly usage and the contacts' last activity scan the account's events), which
costs more than the account page's whole budget (docs/benchmarks.md), so it has its own page,
`/accounts/{id}/timeline` (`timeline.html`: contacts, the note form, the timeline by kind).
The note form posts to `/accounts/{id}/notes`; the REST API serves the same data under
`/api/v1/accounts/{id}/timeline`, `/notes` and `/contacts` (added to the API's router by
`add_api_routes`, so tests/web/test_api_access.py reviews them with the others).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from vitalsign.analytics.contacts import account_contacts
from vitalsign.analytics.renewals import next_renewal
from vitalsign.analytics.timeline import (
    KINDS,
    account_timeline,
    event_summary,
    parse_kinds,
    timeline_counts,
)
from vitalsign.errors import SnapshotError
from vitalsign.store.notes import MAX_NOTE_CHARS, add_note, list_notes
from vitalsign.web.access import Principal, require_account, require_change
from vitalsign.web.auth import CurrentPrincipal, Database, State, check_api_csrf, check_form_csrf
from vitalsign.web.rendering import page_url, render

PAGE_ENTRIES = 60  # the account page shows the newest entries; ?entries=all up to ALL_ENTRIES
ALL_ENTRIES = 5_000


class TimelineEntryOut(BaseModel):
    """One thing that happened with the account."""

    at: dt.datetime = Field(description="When (UTC).")
    kind: str = Field(description=f"One of {', '.join(KINDS)}.")
    title: str
    detail: str | None = None
    tone: str | None = Field(default=None, description='"bad", "good" or null.')


class TimelineOut(BaseModel):
    """The account's timeline, newest first."""

    account_id: str
    kinds: list[str] = Field(description="The kinds asked for (every kind when none was).")
    total: int = Field(description="Entries before `limit`.")
    items: list[TimelineEntryOut]


class NoteIn(BaseModel):
    """A new note about the account."""

    body: str = Field(min_length=1, max_length=MAX_NOTE_CHARS, description="The note's text.")


class NoteOut(BaseModel):
    """One note."""

    note_id: str
    account_id: str
    author: str
    body: str
    created_at: dt.datetime


class NotesOut(BaseModel):
    """The account's notes, newest first."""

    account_id: str
    items: list[NoteOut]


class ContactOut(BaseModel):
    """One person at the account."""

    user_id: str
    email: str | None
    role: str | None
    is_champion: bool
    is_exec_sponsor: bool
    created_at: dt.datetime
    left_at: dt.datetime | None
    last_activity: dt.datetime | None = Field(description="Their newest product event.")


class ContactsOut(BaseModel):
    """The account's people: champion and sponsor first, people who left last."""

    account_id: str
    items: list[ContactOut]


def renewal_summary(
    db: Any, account_id: str, as_of: dt.date, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the account's ARR, next renewal on or after `as_of` and days to it.

    `current` is the account's version in force in `account_history` when the caller has
    read it (every ingest keeps it equal to the `accounts` row); else `accounts` is read.
    """
    if current is not None:
        row: Any = (current["renewal_date"], current["arr"])
    else:
        row = db.execute(
            "SELECT renewal_date, arr FROM accounts WHERE account_id = ?", [account_id]
        ).fetchone()
    renewal, arr = (None, None) if row is None else row
    upcoming = next_renewal(renewal, as_of)
    days = None if upcoming is None else (upcoming - as_of).days
    return {"renewal_date": upcoming, "days_to_renewal": days, "arr": arr}


def account_360(
    request: Request,
    db: Any,
    model_name: str,
    account_id: str,
    as_of: dt.date,
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the account page's renewal card: next renewal, days to it and ARR.

    From the account's `current` version when given, else one query. The champion and the
    contacts are on the timeline page: finding them scans `users`, which at millions of
    people would cost the account page more than its budget.
    """
    return {"renewal": renewal_summary(db, account_id, as_of, current)}


def timeline_context(request: Request, db: Any, model_name: str, account_id: str) -> dict[str, Any]:
    """Return the timeline page's entries, kind filter and contacts (template context).

    The page's `?kind=` parameters (repeated or comma-separated) filter the timeline;
    `?entries=all` shows up to ALL_ENTRIES entries instead of the newest PAGE_ENTRIES.
    """
    limit = ALL_ENTRIES if request.query_params.get("entries") == "all" else PAGE_ENTRIES
    events = event_summary(db, account_id)  # one scan for the usage and the last activity
    everything = account_timeline(db, account_id, model_name, events=events)
    chosen = parse_kinds([k for v in request.query_params.getlist("kind") for k in v.split(",")])
    shown = [e for e in everything if chosen is None or e.kind in chosen]
    return {
        "timeline": shown[:limit],
        "timeline_total": len(shown),
        "timeline_counts": timeline_counts(everything),
        "timeline_kinds": KINDS,
        "timeline_chosen": sorted(chosen or ()),
        "contacts": account_contacts(db, account_id, events.last_seen),
        "note_limit": MAX_NOTE_CHARS,
    }


router = APIRouter(include_in_schema=False)


@router.get("/accounts/{account_id}/timeline", name="timeline_page", response_class=HTMLResponse)
def timeline_page(
    request: Request, state: State, db: Database, principal: CurrentPrincipal, account_id: str
) -> Response:
    """The account's timeline by kind, its contacts and the note form."""
    request.state.principal = principal  # the error page shows the navigation
    require_account(db, principal, account_id)
    found = db.execute("SELECT name FROM accounts WHERE account_id = ?", [account_id]).fetchone()
    if found is None:
        raise SnapshotError(f"unknown account {account_id!r}: check the id on the account list")
    context = timeline_context(request, db, state.model().name, account_id)
    return render(
        request,
        "timeline.html",
        principal,
        nav="accounts",
        account_id=account_id,
        account_name=found[0] or account_id,
        **context,
    )


@router.post("/accounts/{account_id}/notes", name="note_submit")
def note_submit(
    request: Request,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    body: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Add a note from the timeline page (audited); back to the timeline."""
    request.state.principal = principal  # the error page shows the navigation
    check_form_csrf(principal, csrf_token)
    _write_note(db, principal, account_id, body)
    url = page_url(request, "timeline_page", account_id=account_id)
    return RedirectResponse(f"{url}#timeline", status_code=303)


def _write_note(db: Any, principal: Principal, account_id: str, body: str) -> str:
    require_account(db, principal, account_id)
    require_change(principal)
    return add_note(db, account_id, principal.name, body)


def timeline_route(
    state: State,
    db: Database,
    principal: CurrentPrincipal,
    account_id: str,
    kind: Annotated[
        str | None, Query(description=f"Comma-separated kinds: {', '.join(KINDS)}.")
    ] = None,
    since: Annotated[dt.date | None, Query(description="Only entries from this date.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Newest entries kept.")] = 500,
) -> TimelineOut:
    """The account's timeline, newest first, filtered by kind and date."""
    require_account(db, principal, account_id)
    kinds = parse_kinds(kind)
    start = None if since is None else dt.datetime.combine(since, dt.time())
    entries = account_timeline(db, account_id, state.model().name, kinds, start)
    return TimelineOut(
        account_id=account_id,
        kinds=sorted(kinds) if kinds else list(KINDS),
        total=len(entries),
        items=[TimelineEntryOut(**e.to_dict()) for e in entries[:limit]],
    )


def notes_route(db: Database, principal: CurrentPrincipal, account_id: str) -> NotesOut:
    """The account's notes, newest first."""
    require_account(db, principal, account_id)
    notes = [NoteOut(**n.to_dict()) for n in list_notes(db, account_id)]
    return NotesOut(account_id=account_id, items=notes)


def note_add_route(
    request: Request, db: Database, principal: CurrentPrincipal, account_id: str, body: NoteIn
) -> NoteOut:
    """Add a note about the account (admin, manager, the owning csm); audited."""
    require_account(db, principal, account_id)
    check_api_csrf(request, principal)
    note_id = _write_note(db, principal, account_id, body.body)
    found = next(n for n in list_notes(db, account_id) if n.note_id == note_id)
    return NoteOut(**found.to_dict())


def contacts_route(db: Database, principal: CurrentPrincipal, account_id: str) -> ContactsOut:
    """The account's people with role and last activity; the champion marked."""
    require_account(db, principal, account_id)
    items = [ContactOut(**c.to_dict()) for c in account_contacts(db, account_id)]
    return ContactsOut(account_id=account_id, items=items)


def add_api_routes(api: APIRouter, responses: dict[int | str, dict[str, Any]]) -> None:
    """Add the timeline, notes and contacts routes to the REST API's router."""
    base = "/accounts/{account_id}"
    api.add_api_route(f"{base}/timeline", timeline_route, methods=["GET"], responses=responses)
    api.add_api_route(f"{base}/notes", notes_route, methods=["GET"], responses=responses)
    api.add_api_route(
        f"{base}/notes", note_add_route, methods=["POST"], status_code=201, responses=responses
    )
    api.add_api_route(f"{base}/contacts", contacts_route, methods=["GET"], responses=responses)
