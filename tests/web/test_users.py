"""Web users, passwords and API tokens: the Python API and the `vitalsign users` commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.errors import UserError
from vitalsign.store.workspace import Workspace, open_workspace
from vitalsign.web.tokens import create_token, list_tokens, revoke_token, user_for_token
from vitalsign.web.users import add_user, check_password, list_users, remove_user, set_password

PASSWORD = "a long enough password"


def _audit(workspace: Workspace) -> list[tuple[str, str, str, dict[str, object]]]:
    rows = workspace.duckdb.execute(
        "SELECT actor, action, subject, detail FROM audit_log ORDER BY logged_at"
    ).fetchall()
    return [(a, b, c, json.loads(d)) for a, b, c, d in rows]


def test_a_password_is_stored_as_an_argon2_hash_and_checked(workspace: Workspace) -> None:
    add_user(workspace.duckdb, "ann", "manager", PASSWORD, actor="root")
    stored = workspace.duckdb.execute("SELECT password_hash FROM web_users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    user = check_password(workspace.duckdb, "ann", PASSWORD)
    assert user is not None and user.role == "manager"
    assert check_password(workspace.duckdb, "ann", "wrong password!") is None
    assert check_password(workspace.duckdb, "nobody", PASSWORD) is None


def test_every_user_change_is_audited_with_who_and_what(workspace: Workspace) -> None:
    con = workspace.duckdb
    add_user(con, "ann", "csm", PASSWORD, owner="ann@acme.com", actor="root")
    token_id, _ = create_token(con, "ann", "export", actor="root")
    revoke_token(con, token_id, actor="root")
    set_password(con, "ann", PASSWORD + "!", actor="ann")
    remove_user(con, "ann", actor="root")
    actions = [(actor, action, subject) for actor, action, subject, _ in _audit(workspace)]
    assert actions == [
        ("root", "user.add", "ann"),
        ("root", "user.token", "ann"),
        ("root", "user.revoke_token", "ann"),
        ("ann", "user.password", "ann"),
        ("root", "user.remove", "ann"),
    ]
    assert _audit(workspace)[0][3] == {"owner": "ann@acme.com", "role": "csm"}


def test_a_token_is_shown_once_stored_hashed_and_stops_working_when_revoked(
    workspace: Workspace,
) -> None:
    con = workspace.duckdb
    add_user(con, "bot", "viewer", PASSWORD)
    token_id, secret = create_token(con, "bot", "nightly")
    stored = con.execute("SELECT token_hash FROM web_tokens").fetchone()[0]
    assert secret not in stored and len(stored) == 64
    user = user_for_token(con, secret)
    assert user is not None and user.name == "bot"
    revoke_token(con, token_id)
    assert user_for_token(con, secret) is None
    assert list_tokens(con, "bot")[0].revoked_at is not None


def test_removing_a_user_revokes_their_tokens(workspace: Workspace) -> None:
    con = workspace.duckdb
    add_user(con, "bot", "viewer", PASSWORD)
    _, secret = create_token(con, "bot")
    remove_user(con, "bot")
    assert user_for_token(con, secret) is None
    assert list_users(con) == []


@pytest.mark.parametrize(
    ("name", "role", "password", "owner", "message"),
    [
        ("ann", "boss", PASSWORD, None, "role 'boss': use one of admin, manager, csm, viewer"),
        ("ann", "csm", PASSWORD, None, "give --owner"),
        ("ann", "viewer", "short", None, "at least 8 characters"),
        ("bad name", "viewer", PASSWORD, None, "use 1-64 letters"),
    ],
)
def test_a_bad_user_is_refused_with_how_to_fix_it(
    workspace: Workspace, name: str, role: str, password: str, owner: str | None, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        add_user(workspace.duckdb, name, role, password, owner)
    assert list_users(workspace.duckdb) == []


def test_a_user_name_is_taken_once(workspace: Workspace) -> None:
    add_user(workspace.duckdb, "ann", "viewer", PASSWORD)
    with pytest.raises(UserError, match="exists"):
        add_user(workspace.duckdb, "ann", "admin", PASSWORD)
    assert [u.role for u in list_users(workspace.duckdb)] == ["viewer"]


def test_the_users_commands_add_list_token_revoke_and_remove(workspace: Workspace) -> None:
    runner = CliRunner()
    root = str(workspace.root)
    workspace.close()
    added = runner.invoke(
        app,
        ["users", "add", "ann", "--role", "csm", "--owner", "ann@acme.com", "-w", root],
        env={"VITALSIGN_PASSWORD": PASSWORD},
    )
    assert added.exit_code == 0, added.output
    token = runner.invoke(app, ["users", "token", "ann", "--label", "ci", "-w", root])
    assert token.exit_code == 0, token.output
    secret = token.output.strip().splitlines()[-1]
    assert secret.startswith("vst_")
    listed = runner.invoke(app, ["users", "list", "--tokens", "-w", root])
    assert "ann" in listed.output and "csm" in listed.output and "ci" in listed.output
    reopened = open_workspace(root)
    token_id = list_tokens(reopened.duckdb, "ann")[0].token_id
    assert user_for_token(reopened.duckdb, secret) is not None
    revoked = runner.invoke(app, ["users", "revoke", token_id, "-w", root])
    assert revoked.exit_code == 0, revoked.output
    assert user_for_token(reopened.duckdb, secret) is None
    removed = runner.invoke(app, ["users", "remove", "ann", "-w", root])
    assert removed.exit_code == 0, removed.output
    again = runner.invoke(app, ["users", "remove", "ann", "-w", root])
    assert again.exit_code != 0
