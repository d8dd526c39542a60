"""Account 360 over a real server: timeline, notes, contacts, renewal; refusals for each route."""

from __future__ import annotations

import re

from conftest import ALICE, World
from vitalsign.web.timeline import PAGE_ENTRIES


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def _counts(world: World, account: str) -> tuple[int, int]:
    con = world.workspace.duckdb.cursor()
    notes = con.execute("SELECT count(*) FROM notes WHERE account_id = ?", [account]).fetchone()
    audited = con.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'note.add' AND subject = ?", [account]
    ).fetchone()
    return int(notes[0]), int(audited[0])


def test_the_timeline_api_lists_the_accounts_history_newest_first_by_kind(world: World) -> None:
    account = world.alice_account
    with world.client("alice") as alice:
        everything = alice.get(f"/api/v1/accounts/{account}/timeline").json()
        tickets = alice.get(
            f"/api/v1/accounts/{account}/timeline", params={"kind": "ticket,alert"}
        ).json()
        wrong = alice.get(f"/api/v1/accounts/{account}/timeline", params={"kind": "nope"})
    stamps = [e["at"] for e in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)
    kinds = {e["kind"] for e in everything["items"]}
    assert {"score", "alert", "task", "invoice", "usage"} <= kinds  # the world fired alerts
    assert tickets["kinds"] == ["alert", "ticket"]
    expected = [e for e in everything["items"] if e["kind"] in ("ticket", "alert")]
    assert tickets["items"] == expected and tickets["total"] == len(expected)
    assert wrong.status_code == 400 and "unknown timeline kind 'nope'" in wrong.text
    con = world.workspace.duckdb.cursor()
    opened = con.execute(
        "SELECT count(*) FROM tickets WHERE account_id = ? AND deleted_at IS NULL", [account]
    ).fetchone()[0]
    assert sum(1 for e in expected if e["title"].startswith("Ticket opened")) == opened


def test_a_csm_adds_a_note_by_api_it_is_audited_and_shown_in_the_timeline(world: World) -> None:
    account = world.alice_account
    before = _counts(world, account)
    with world.client("alice") as alice:
        added = alice.post(f"/api/v1/accounts/{account}/notes", json={"body": "QBR moved to May"})
        notes = alice.get(f"/api/v1/accounts/{account}/notes").json()
        timeline = alice.get(f"/api/v1/accounts/{account}/timeline", params={"kind": "note"})
    assert added.status_code == 201, added.text
    note = added.json()
    assert note["author"] == "alice" and note["body"] == "QBR moved to May"
    assert note["note_id"] in [n["note_id"] for n in notes["items"]]
    assert {"kind": "note", "title": "Note by alice", "detail": "QBR moved to May"}.items() <= (
        timeline.json()["items"][0].items()
    )
    assert _counts(world, account) == (before[0] + 1, before[1] + 1)


def test_note_writes_are_refused_to_strangers_viewers_other_csms_and_empty_bodies(
    world: World,
) -> None:
    account = world.alice_account
    before = _counts(world, account)
    url = f"/api/v1/accounts/{account}/notes"
    with world.client() as stranger:
        assert stranger.post(url, json={"body": "hi"}).status_code == 401
        assert stranger.get(url).status_code == 401
    with world.client("vic") as viewer:
        assert viewer.get(url).status_code == 200  # a viewer reads
        assert viewer.post(url, json={"body": "hi"}).status_code == 403
    with world.client("bob") as bob:
        assert bob.post(url, json={"body": "hi"}).status_code == 403
        assert bob.get(url).status_code == 403
        assert bob.get(f"/api/v1/accounts/{account}/timeline").status_code == 403
        assert bob.get(f"/api/v1/accounts/{account}/contacts").status_code == 403
    with world.client("alice") as alice:
        assert alice.post(url, json={"body": ""}).status_code == 422
        assert alice.post(url, json={"body": "   "}).status_code == 400
    with world.login("alice") as session:  # a session without the CSRF header
        assert session.post(url, json={"body": "hi"}).status_code == 403
    assert _counts(world, account) == before


def test_the_account_page_shows_renewal_contacts_and_a_note_added_with_the_form(
    world: World,
) -> None:
    account = world.alice_account
    con = world.workspace.duckdb.cursor()
    champion = con.execute(
        "SELECT email FROM users WHERE account_id = ? AND is_champion AND deleted_at IS NULL",
        [account],
    ).fetchone()
    arr = con.execute("SELECT arr FROM accounts WHERE account_id = ?", [account]).fetchone()[0]
    with world.login("alice") as browser:
        account_page = browser.get(f"/accounts/{account}").text
        assert f"${arr:,.0f}" in account_page.split('id="renewal-arr"')[1][:40]
        assert f'href="/accounts/{account}/timeline"' in account_page
        page = browser.get(f"/accounts/{account}/timeline").text
        assert 'id="timeline"' in page and 'id="note-form"' in page and 'id="contacts"' in page
        if champion is not None:
            row = page.split(f">{champion[0]}")[1][:80]
            assert "champion" in row
        sent = browser.post(
            f"/accounts/{account}/notes",
            data={"body": "Form note: budget approved", "csrf_token": _csrf(page)},
        )
        assert sent.status_code == 303 and sent.headers["location"].endswith("#timeline")
        assert sent.headers["location"].startswith(f"/accounts/{account}/timeline")
        after = browser.get(f"/accounts/{account}/timeline", params={"kind": "note"}).text
    timeline = after.split('id="timeline"')[1]
    assert "Form note: budget approved" in timeline
    assert 'data-kind="invoice"' not in timeline  # the kind filter keeps notes only


def test_the_note_form_is_refused_to_viewers_other_csms_strangers_and_forged_posts(
    world: World,
) -> None:
    account = world.alice_account
    before = _counts(world, account)
    with world.client() as stranger:
        reply = stranger.post(f"/accounts/{account}/notes", data={"body": "x"})
        assert reply.status_code in (303, 401)
    with world.login("vic") as viewer:
        page = viewer.get(f"/accounts/{account}/timeline").text
        assert 'id="note-form"' not in page and 'id="timeline"' in page
        refused = viewer.post(
            f"/accounts/{account}/notes", data={"body": "x", "csrf_token": _csrf(page)}
        )
        assert refused.status_code == 403
    with world.login("bob") as bob:
        page = bob.get("/accounts").text
        refused = bob.post(
            f"/accounts/{account}/notes", data={"body": "x", "csrf_token": _csrf(page)}
        )
        assert refused.status_code == 403
    with world.login("alice") as alice:
        forged = alice.post(f"/accounts/{account}/notes", data={"body": "x", "csrf_token": "no"})
        assert forged.status_code == 403
    assert _counts(world, account) == before


def test_contacts_api_marks_the_champion_and_gives_last_activity(world: World) -> None:
    account = world.alice_account
    with world.client("maria") as maria:
        contacts = maria.get(f"/api/v1/accounts/{account}/contacts").json()["items"]
    con = world.workspace.duckdb.cursor()
    users = con.execute(
        "SELECT user_id, is_champion FROM users WHERE account_id = ? AND deleted_at IS NULL",
        [account],
    ).fetchall()
    assert {c["user_id"] for c in contacts} == {u for u, _ in users}
    champions = [c["user_id"] for c in contacts if c["is_champion"]]
    assert champions == [u for u, champion in users if champion]
    newest = con.execute(
        "SELECT user_id, max(timestamp) FROM events WHERE account_id = ? GROUP BY user_id",
        [account],
    ).fetchall()
    seen = {u: t.isoformat() for u, t in newest}
    assert all(c["last_activity"] == seen.get(c["user_id"]) for c in contacts)


def test_the_account_list_shows_renewal_and_a_sparkline_of_the_last_snapshots(
    world: World,
) -> None:
    with world.client("maria") as maria:
        rows = maria.get("/api/v1/accounts", params={"sort": "renewal", "per_page": 500}).json()
    items = rows["items"]
    renewals = [r["days_to_renewal"] for r in items if r["days_to_renewal"] is not None]
    assert renewals == sorted(renewals)
    snapshots = world.workspace.duckdb.execute(
        "SELECT count(DISTINCT snapshot_date) FROM scores"
    ).fetchone()[0]
    assert all(len(r["recent_scores"]) == min(snapshots, 12) for r in items)
    assert all(r["recent_scores"][-1] == r["score"] for r in items)
    with world.login("alice") as alice:
        page = alice.get("/accounts").text
    assert page.count('class="sparkline"') == page.count('<tr data-account="')
    assert "Renewal" in page and ALICE in page


def test_the_page_shows_the_newest_entries_and_links_to_all_of_them(world: World) -> None:
    account = world.alice_account
    with world.client("alice") as alice:
        total = alice.get(f"/api/v1/accounts/{account}/timeline").json()["total"]
    with world.login("alice") as browser:
        page = browser.get(f"/accounts/{account}/timeline").text
        every = browser.get(f"/accounts/{account}/timeline", params={"entries": "all"}).text
    assert total > PAGE_ENTRIES, "the demo account has a long history"
    assert page.count('<li class="tl-') == PAGE_ENTRIES and 'id="timeline-all"' in page
    assert every.count('<li class="tl-') == total and 'id="timeline-all"' not in every


def test_the_timeline_page_is_refused_to_strangers_and_other_csms(world: World) -> None:
    account = world.alice_account
    with world.client() as stranger:
        reply = stranger.get(f"/accounts/{account}/timeline")
        assert reply.status_code == 303 and "/login" in reply.headers["location"]
    with world.login("bob") as bob:
        assert bob.get(f"/accounts/{account}/timeline").status_code == 403
        assert bob.get(f"/accounts/{world.bob_account}/timeline").status_code == 200
    with world.login("maria") as maria:
        assert maria.get("/accounts/no-such-account/timeline").status_code == 404


def test_a_note_is_shown_as_text_never_as_markup(world: World) -> None:
    account = world.alice_account
    body = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with world.client("alice") as alice:
        assert (
            alice.post(f"/api/v1/accounts/{account}/notes", json={"body": body}).status_code == 201
        )
    with world.login("alice") as browser:
        page = browser.get(f"/accounts/{account}/timeline", params={"kind": "note"}).text
    assert body not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_the_timeline_marks_the_snapshot_where_the_model_changed(world: World) -> None:
    with world.client("maria") as maria:
        items = maria.get(
            f"/api/v1/accounts/{world.bob_account}/timeline", params={"kind": "score"}
        ).json()["items"]
    old, new = world.model_hashes
    changed = [e for e in items if "the model changed" in (e["detail"] or "")]
    assert [e["at"][:10] for e in changed] == [world.latest.isoformat()]
    assert f"({old} → {new})" in changed[0]["detail"]
