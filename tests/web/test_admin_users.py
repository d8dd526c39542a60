"""The admin area in the browser: the /admin landing page, users and roles, API tokens.

Uses the shared web world; the users and tokens this module creates have names starting with
`adm-`, so no other module's users (root, maria, vic, alice, bob) are changed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import PASSWORD, World
from vitalsign.cli import app
from vitalsign.errors import UserError
from vitalsign.store.schema import INTERNAL_DDL
from vitalsign.store.workspace import Workspace, open_workspace
from vitalsign.web.admin_users import router
from vitalsign.web.tokens import create_token, find_token
from vitalsign.web.users import ROLES, add_user, check_password, set_disabled, set_owner, set_role

SECTIONS = ("/admin/users", "/admin/tokens", "/admin/sources", "/admin/jobs", "/admin/models")
PAGES = ("/admin", "/admin/users", "/admin/tokens")
FORMS: tuple[tuple[str, dict[str, str]], ...] = (
    ("/admin/users", {"name": "adm-intruder", "role": "admin", "password": PASSWORD}),
    ("/admin/users/bob/role", {"role": "viewer"}),
    ("/admin/users/bob/owner", {"owner": "alice@vendor.example"}),
    ("/admin/users/bob/disable", {}),
    ("/admin/users/bob/enable", {}),
    ("/admin/users/bob/password", {"password": "an intruder's password"}),
    ("/admin/tokens", {"user": "bob", "scope": "write", "label": "intruder"}),
    ("/admin/tokens/nonexistent/revoke", {}),
)


def csrf(page: str) -> str:
    """The session's CSRF token, from any signed-in page's form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page carries the session's CSRF token"
    return found.group(1)


def post(browser: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    """Post a form of the admin area with the session's CSRF token."""
    token = csrf(browser.get("/admin/users").text)
    return browser.post(path, data={**data, "csrf_token": token})


def row(page: str, user: str) -> str:
    """The users table's row of `user`."""
    found = re.search(rf'<tr data-user="{re.escape(user)}".*?</tr>', page, re.S)
    assert found, f"{user} is listed"
    return found.group(0)


def audit(world: World, subject: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = (
        world.workspace.duckdb.cursor()
        .execute(
            "SELECT actor, action, detail FROM audit_log WHERE subject = ? ORDER BY logged_at",
            [subject],
        )
        .fetchall()
    )
    return [(actor, action, json.loads(detail)) for actor, action, detail in rows]


def signs_in(world: World, user: str, password: str) -> bool:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        client.get("/login")
        token = client.cookies["vitalsign_login_csrf"]
        reply = client.post(
            "/login", data={"username": user, "password": password, "csrf_token": token}
        )
        return reply.status_code == 303


def test_an_admin_reaches_the_admin_area_from_the_navigation(world: World) -> None:
    with world.login("root") as browser:
        portfolio = browser.get("/").text
        page = browser.get("/admin")
    assert 'id="nav-admin">Admin</a>' in portfolio
    assert page.status_code == 200
    cursor = world.workspace.duckdb.cursor()
    users, admins = cursor.execute(
        "SELECT count(*), count(*) FILTER (role = 'admin' AND disabled_at IS NULL) FROM web_users"
    ).fetchone()
    assert f"{users} users ({admins} enabled admin" in page.text
    for path in SECTIONS:
        assert f'href="{path}"' in page.text


def test_anonymous_callers_are_sent_to_sign_in_for_every_page_and_form(world: World) -> None:
    with world.client() as anonymous:
        for path in PAGES:
            page = anonymous.get(path)
            assert page.status_code == 303 and "/login" in page.headers["location"], path
        for path, data in FORMS:
            refused = anonymous.post(path, data=data)
            assert refused.status_code in (303, 401), path
            assert refused.status_code == 401 or "/login" in refused.headers["location"]


@pytest.mark.parametrize("user", ["maria", "alice", "vic"])
def test_other_roles_neither_see_nor_use_the_admin_area(world: World, user: str) -> None:
    with world.login(user) as browser:
        for path in PAGES:
            refused = browser.get(path)
            assert refused.status_code == 403, path
            assert "nav-admin" not in refused.text and ">Portfolio</a>" in refused.text
        token = csrf(refused.text)  # the sign-out form's
        for path, data in FORMS:  # with the session's own CSRF token: refused for the role
            assert browser.post(path, data={**data, "csrf_token": token}).status_code == 403
    with world.client(user) as api:  # their API token is refused too
        assert api.post("/admin/users/bob/disable").status_code == 403
    assert audit(world, "adm-intruder") == []
    bob = world.workspace.duckdb.cursor().execute(
        "SELECT role, owner, disabled_at FROM web_users WHERE name = 'bob'"
    )
    assert bob.fetchone() == ("csm", "bob@vendor.example", None), "bob's book is untouched"


def test_an_admin_form_without_the_sessions_csrf_token_is_refused(world: World) -> None:
    with world.login("root") as browser:
        for path, data in FORMS:
            refused = browser.post(path, data={**data, "csrf_token": "forged"})
            assert refused.status_code == 403 and "expired" in refused.text, path
    assert audit(world, "adm-intruder") == []


def test_an_admin_adds_a_user_changes_their_role_and_book_and_disables_them(
    world: World,
) -> None:
    with world.login("root") as browser:
        added = post(
            browser,
            "/admin/users",
            {"name": "adm-carol", "role": "viewer", "password": PASSWORD},
        )
        assert added.status_code == 303
        page = browser.get(added.headers["location"]).text
        assert "User adm-carol added." in page
        assert "<option selected>viewer</option>" in row(page, "adm-carol")
        assert "never" in row(page, "adm-carol")  # has not signed in yet
        assert signs_in(world, "adm-carol", PASSWORD)
        assert "never" not in row(browser.get("/admin/users").text, "adm-carol").split("<td>")[5]

        refused = post(browser, "/admin/users/adm-carol/role", {"role": "csm"})
        assert (
            refused.status_code == 400 and "a csm sees only the accounts they own" in refused.text
        )
        assert "give the Book (owner) field" in refused.text and "--owner" not in refused.text
        assert post(browser, "/admin/users/adm-carol/owner", {"owner": "bob@vendor.example"})
        changed = post(browser, "/admin/users/adm-carol/role", {"role": "csm"})
        assert changed.status_code == 303
        page = browser.get("/admin/users").text
        assert "<option selected>csm</option>" in row(page, "adm-carol")
        assert 'value="bob@vendor.example"' in row(page, "adm-carol")

        assert post(browser, "/admin/users/adm-carol/disable", {}).status_code == 303
        assert "disabled" in row(browser.get("/admin/users").text, "adm-carol")
        assert not signs_in(world, "adm-carol", PASSWORD)
        assert post(browser, "/admin/users/adm-carol/enable", {}).status_code == 303
        assert signs_in(world, "adm-carol", PASSWORD)
    actions = [(actor, action) for actor, action, _ in audit(world, "adm-carol")]
    assert actions == [
        ("root", "user.add"),
        ("root", "user.owner"),
        ("root", "user.role"),
        ("root", "user.disable"),
        ("root", "user.enable"),
    ]
    assert audit(world, "adm-carol")[2][2] == {"from": "viewer", "to": "csm"}


def test_a_csm_given_a_book_by_the_admin_sees_those_accounts_at_once(world: World) -> None:
    with world.login("root") as browser:
        post(
            browser,
            "/admin/users",
            {
                "name": "adm-dan",
                "role": "csm",
                "owner": "alice@vendor.example",
                "password": PASSWORD,
            },
        )
        with world.login("adm-dan") as dan:
            assert dan.get(f"/accounts/{world.alice_account}").status_code == 200
            assert dan.get(f"/accounts/{world.bob_account}").status_code == 403
            post(browser, "/admin/users/adm-dan/owner", {"owner": "bob@vendor.example"})
            assert dan.get(f"/accounts/{world.bob_account}").status_code == 200
            assert dan.get(f"/accounts/{world.alice_account}").status_code == 403


def test_a_password_reset_shows_a_one_time_password_once(world: World) -> None:
    with world.login("root") as browser:
        post(browser, "/admin/users", {"name": "adm-erin", "role": "viewer", "password": PASSWORD})
        reset = post(browser, "/admin/users/adm-erin/password", {})
        assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
        shown = re.search(r'<code class="secret">([^<]+)</code>', reset.text)
        assert shown and "One-time password for adm-erin" in reset.text
        # the old password no longer matches (checked without a failed sign-in, which would
        # count towards the shared server's per-address lockout)
        assert check_password(world.workspace.duckdb.cursor(), "adm-erin", PASSWORD) is None
        assert signs_in(world, "adm-erin", shown.group(1))
        assert shown.group(1) not in browser.get("/admin/users").text
        typed = post(browser, "/admin/users/adm-erin/password", {"password": "short"})
        assert typed.status_code == 400 and "at least 8 characters" in typed.text
    changes = [a for _, a, _ in audit(world, "adm-erin") if a.startswith("user.")]
    assert changes == ["user.add", "user.password"]


def test_an_admin_cannot_disable_or_demote_themselves(world: World) -> None:
    with world.login("root") as browser:
        disable = post(browser, "/admin/users/root/disable", {})
        demote = post(browser, "/admin/users/root/role", {"role": "manager"})
        page = browser.get("/admin/users")
        crafted = browser.get("/admin/users", params={"done": "role", "user": "root; call 555"})
    assert "call 555" not in crafted.text and "changed." not in crafted.text
    assert disable.status_code == 400 and "you cannot disable yourself" in disable.text
    assert demote.status_code == 400 and "you cannot demote yourself" in demote.text
    assert page.status_code == 200 and "(you)" in row(page.text, "root")
    assert [a for _, a, _ in audit(world, "root") if a in ("user.disable", "user.role")] == []


def test_a_read_token_reads_but_never_writes_and_records_its_last_use(world: World) -> None:
    with world.login("root") as browser:
        made = post(
            browser,
            "/admin/tokens",
            {"user": "maria", "scope": "read", "label": "adm-report", "expires_on": ""},
        )
        assert made.status_code == 200 and 'id="new-token"' in made.text
        secret = re.search(r'<code class="secret">(vst_[^<]+)</code>', made.text)
        assert secret
        token_id = re.search(r"Secret of token (\w+)", made.text)
        assert token_id
        listed = browser.get("/admin/tokens").text
        assert secret.group(1) not in listed  # shown once
        listing = re.search(rf'<tr data-token="{token_id.group(1)}".*?</tr>', listed, re.S)
        assert (
            listing and "<td>read</td>" in listing.group(0) and "<td>never</td>" in listing.group(0)
        )
        headers = {"Authorization": f"Bearer {secret.group(1)}"}
        with httpx.Client(base_url=world.url, headers=headers, timeout=30) as api:
            assert api.get("/api/v1/accounts").status_code == 200
            refused = api.post(
                f"/api/v1/accounts/{world.alice_account}/overrides",
                json={"target": "band", "value": "red", "reason": "adm read token"},
            )
            assert refused.status_code == 403 and "may only read" in refused.text
            page = api.get(f"/accounts/{world.alice_account}")  # read: no change forms shown
        with world.client("maria") as writer:  # maria's own write token
            writable = writer.get(f"/accounts/{world.alice_account}")
        assert page.status_code == 200 and "override-form" not in page.text
        assert "override-form" in writable.text
        used = re.search(
            rf'<tr data-token="{token_id.group(1)}".*?</tr>',
            browser.get("/admin/tokens").text,
            re.S,
        )
        assert used and used.group(0).count("<td>never</td>") == 1  # expires never; used now

        with world.client("root") as api:
            listed_api = api.get("/api/v1/users").json()
        by_id = {t["token_id"]: t for t in listed_api["tokens"]}
        assert by_id[token_id.group(1)]["scope"] == "read"
        assert by_id[token_id.group(1)]["last_used_at"] is not None
        assert by_id[token_id.group(1)]["expires_at"] is None
        root = next(u for u in listed_api["items"] if u["name"] == "root")
        assert root["last_login_at"] is not None

        revoked = post(browser, f"/admin/tokens/{token_id.group(1)}/revoke", {})
        assert revoked.status_code == 303
        assert f"token={token_id.group(1)}" in revoked.headers["location"]
        assert "user=" not in revoked.headers["location"]  # it names a token, not a user
        assert (
            f"Token {token_id.group(1)} revoked." in browser.get(revoked.headers["location"]).text
        )
        with httpx.Client(base_url=world.url, headers=headers, timeout=30) as api:
            assert api.get("/api/v1/accounts").status_code == 401


def test_a_token_expires_through_its_date_and_a_past_date_is_refused(world: World) -> None:
    with world.login("root") as browser:
        yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
        refused = post(
            browser, "/admin/tokens", {"user": "vic", "scope": "read", "expires_on": yesterday}
        )
        assert refused.status_code == 400 and "not in the future" in refused.text
        assert f"valid through {yesterday} is not" in refused.text  # the day entered
        last_day = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=40)).isoformat()
        made = post(
            browser,
            "/admin/tokens",
            {"user": "vic", "scope": "read", "label": "adm-through", "expires_on": last_day},
        )
        shown = re.search(r'<tr data-token="(\w+)".*?adm-through.*?</tr>', made.text, re.S)
        assert made.status_code == 200 and shown and f"<td>{last_day}</td>" in shown.group(0)
    with world.client("root") as api:
        listed = {t["token_id"]: t for t in api.get("/api/v1/users").json()["tokens"]}
    assert listed[shown.group(1)]["valid_through"] == last_day
    assert listed[shown.group(1)]["expires_at"].startswith(  # the stored instant is kept
        (dt.date.fromisoformat(last_day) + dt.timedelta(days=1)).isoformat()
    )
    with world.login("root") as browser:
        typo = post(
            browser, "/admin/tokens", {"user": "vic", "scope": "read", "expires_on": "soon"}
        )
        assert typo.status_code == 400 and "YYYY-MM-DD" in typo.text
        bad = post(browser, "/admin/tokens", {"user": "vic", "scope": "admin"})
        assert bad.status_code == 400 and "use one of read, write" in bad.text
    con = world.workspace.duckdb.cursor()
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3)
    token_id, secret = create_token(con, "vic", "adm-expiring", "test", "read", later)
    con.execute(  # as if its date had passed (before its first use, so nothing is cached)
        "UPDATE web_tokens SET expires_at = ? WHERE token_id = ?",
        [later - dt.timedelta(days=4), token_id],
    )
    with httpx.Client(
        base_url=world.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    ) as api:
        expired = api.get("/api/v1/accounts")
    assert expired.status_code == 401 and "expired" in expired.text
    with world.login("root") as browser:
        page = browser.get("/admin/tokens").text
    assert re.search(rf'<tr data-token="{token_id}" class="token-expired">', page)


# The rules the admin area relies on, as a property of vitalsign.web.users: whatever admins do,
# nobody disables or demotes themselves, a csm always keeps a book, and each change is audited.
PEOPLE = ("root", "ann", "cid")
START = {"root": ("admin", None), "ann": ("admin", None), "cid": ("csm", "cid@vendor.example")}
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(("root", "ann")),  # the acting admin
        st.sampled_from(("disable", "enable", "role", "owner")),
        st.sampled_from(PEOPLE),
        st.sampled_from((*ROLES, "", "x@vendor.example")),  # a role or a book
    ),
    max_size=8,
)


@pytest.fixture(scope="module")
def people() -> Iterator[Any]:
    con = duckdb.connect()
    con.execute(INTERNAL_DDL["audit_log"])
    for name, (role, owner) in START.items():
        add_user(con, name, role, PASSWORD, owner, actor="test")
    yield con
    con.close()


def _state(con: Any) -> dict[str, tuple[Any, ...]]:
    rows = con.execute("SELECT name, role, owner, disabled_at FROM web_users").fetchall()
    return {r[0]: r[1:] for r in rows}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_admins_never_lock_themselves_out_and_every_change_is_audited(
    people: Any, operations: list[tuple[str, str, str, str]]
) -> None:
    con = people
    for name, (role, owner) in START.items():
        con.execute(
            "UPDATE web_users SET role = ?, owner = ?, disabled_at = NULL WHERE name = ?",
            [role, owner, name],
        )
    for actor, operation, target, value in operations:
        before = _state(con)
        logged = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        try:
            if operation == "role":
                set_role(con, target, value, actor=actor)
            elif operation == "owner":
                set_owner(con, target, value, actor=actor)
            else:
                set_disabled(con, target, operation == "disable", actor=actor)
        except UserError:
            assert _state(con) == before, "a refusal changes nothing"
            assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == logged
            continue
        after = _state(con)
        entry = con.execute(
            "SELECT actor, subject FROM audit_log ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == logged + 1
        assert entry == (actor, target)
        if target == actor and before[actor][0] == "admin":
            assert after[actor][0] == "admin", "no admin demotes themselves"
            assert before[actor][2] is not None or after[actor][2] is None, "nor disables"
        assert all(owner for role, owner, _ in after.values() if role == "csm"), "csm: a book"


def test_the_web_docs_describe_every_page_and_form_of_the_admin_users_area() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text(encoding="utf-8")
    section = docs.split("## Admin: users and API tokens", 1)[1].split("\n## ", 1)[0]
    for path in ("/admin", "/admin/users", "/admin/tokens"):
        assert f"`{path}`" in section, path
    buttons = {"Add a user", "Change", "Assign", "Disable", "Enable", "Reset", "Revoke"}
    for button in buttons | {"Create a token"}:
        assert f"**{button}**" in section, button
    actions = {"user.add", "user.role", "user.owner", "user.disable", "user.enable"}
    for action in actions | {"user.password", "user.token", "user.revoke_token"}:
        assert f"`{action}`" in section, action
    assert {r.path for r in router.routes} <= {  # type: ignore[attr-defined]
        "/admin",
        "/admin/users",
        "/admin/users/{name}/role",
        "/admin/users/{name}/owner",
        "/admin/users/{name}/disable",
        "/admin/users/{name}/enable",
        "/admin/users/{name}/password",
        "/admin/tokens",
        "/admin/tokens/{token_id}/revoke",
    }, "a new admin route: describe it in docs/web.md and add it here"


def test_the_users_commands_change_a_role_and_a_book_and_make_scoped_expiring_tokens(
    workspace: Workspace,
) -> None:
    runner = CliRunner()
    root = str(workspace.root)
    workspace.close()

    def run(*args: str) -> str:
        done = runner.invoke(app, ["users", *args, "-w", root, "--by", "ops"])
        assert done.exit_code == 0, done.output
        return done.output

    runner.invoke(
        app,
        ["users", "add", "ann", "--role", "viewer", "-w", root],
        env={"VITALSIGN_PASSWORD": PASSWORD},
    )
    refused = runner.invoke(app, ["users", "role", "ann", "csm", "-w", root])
    assert "a csm sees only the accounts they own" in str(refused.exception)
    assert "give --owner" in str(refused.exception)  # the CLI names its option
    assert "ann is now csm, accounts of ann@acme.com" in run(
        "role", "ann", "csm", "--owner", "ann@acme.com"
    )
    assert "Book of ann: bo@acme.com" in run("owner", "ann", "bo@acme.com")
    last_day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    secret = run("token", "ann", "--scope", "read", "--expires", last_day.isoformat())
    listed = runner.invoke(app, ["users", "list", "--tokens", "-w", root]).output
    assert "scope" in listed and "read" in listed and "last sign-in" in listed
    past = runner.invoke(app, ["users", "token", "ann", "--expires", "2020-01-01", "-w", root])
    assert "valid through 2020-01-01 is not in the future" in str(past.exception)
    assert f"valid through {last_day}" in secret
    assert f"│ {last_day} " in listed  # the valid-through column shows the day given
    reopened = open_workspace(root)
    found = find_token(reopened.duckdb, secret.strip().splitlines()[-1])
    assert found is not None and found[1].scope == "read"
    assert found[1].expires_at == dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time())
    assert found[0].role == "csm" and found[0].owner == "bo@acme.com"
    actions = reopened.duckdb.execute(
        "SELECT actor, action FROM audit_log WHERE actor = 'ops' ORDER BY rowid"
    ).fetchall()
    assert actions == [("ops", "user.role"), ("ops", "user.owner"), ("ops", "user.token")]
