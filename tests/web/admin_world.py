"""A small served workspace for the admin pages: sources, a quarantine, users of every role.

Two accounts loaded from a file, a tickets file with rows for an account that does not exist
yet (quarantined), a source declared in vitalsign.yml for "sync now", and the users of
tests/web/conftest.py (root admin, maria manager, vic viewer, alice and bob csms).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conftest import OWNERS, PASSWORD, ROLES, ServedApp
from vitalsign.ingest.files import load_file
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace
from vitalsign.web import WebSettings, create_app
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

ACCOUNTS = "Id,Name,Owner,Since\na1,Acme,alice@vendor.example,2023-01-01\n"
ACCOUNTS += "a2,Beta,bob@vendor.example,2023-01-01\n"
TICKETS = "Id,Org,Opened\nt1,a1,2024-01-02\nt2,a9,2024-01-03\nt3,a9,2024-01-04\nt4,a1,soon\n"
DESK = "Id,Org,Opened\nd1,a2,2024-02-01\nd2,a2,2024-02-02\nd3,nobody,2024-02-03\n"
SOURCES = """
sources:
  - name: desk
    path: desk.csv
    into: tickets
    columns: {ticket_id: Id, account_id: Org, created_at: Opened}
"""


@dataclass
class AdminWorld:
    """The served workspace, its app and users' tokens."""

    workspace: Workspace
    app: Any
    url: str
    tokens: dict[str, str]

    def client(self, user: str | None = None) -> httpx.Client:
        """An HTTP client, with `user`'s API token when given."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    @contextmanager
    def login(self, user: str) -> Iterator[httpx.Client]:
        """A client signed in through the login form (session cookie)."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            client.get("/login")
            token = client.cookies["vitalsign_login_csrf"]
            reply = client.post(
                "/login", data={"username": user, "password": PASSWORD, "csrf_token": token}
            )
            assert reply.status_code == 303, reply.text
            yield client

    def count(self, sql: str) -> int:
        """A count from the served database (its own cursor)."""
        cursor = self.workspace.duckdb.cursor()
        try:
            return int(cursor.execute(sql).fetchone()[0])
        finally:
            cursor.close()

    def wait_for_jobs(self, timeout: float = 120.0) -> None:
        """Wait until the server runs no job."""
        deadline = time.monotonic() + timeout
        while self.app.state.jobs.current is not None:
            assert time.monotonic() < deadline, "the job did not end"
            time.sleep(0.1)


@contextmanager
def admin_world(root: Path) -> Iterator[AdminWorld]:
    """Build the workspace in `root`, serve it, and stop the server afterwards."""
    workspace = init_workspace(root)
    config = root / "vitalsign.yml"
    config.write_text(config.read_text() + SOURCES)
    workspace.close()
    workspace = open_workspace(root)
    (root / "accounts.csv").write_text(ACCOUNTS)
    (root / "tickets.csv").write_text(TICKETS)
    (root / "desk.csv").write_text(DESK)
    mapping = {"account_id": "Id", "name": "Name", "owner": "Owner", "created_at": "Since"}
    load_file(workspace, root / "accounts.csv", "accounts", mapping)
    load_file(
        workspace,
        root / "tickets.csv",
        "tickets",
        {"ticket_id": "Id", "account_id": "Org", "created_at": "Opened"},
    )
    add_user(workspace.duckdb, "root", "admin", PASSWORD, None, actor="test")
    for name, role in ROLES.items():  # the same password hash: argon2 is slow on purpose
        if name != "root":
            workspace.duckdb.execute(
                "INSERT INTO web_users (name, role, owner, password_hash, created_at) "
                "SELECT ?, ?, ?, password_hash, created_at FROM web_users WHERE name = 'root'",
                [name, role, OWNERS.get(name)],
            )
    tokens = {
        name: create_token(workspace.duckdb, name, "tests", actor="test")[1] for name in ROLES
    }
    app = create_app(workspace, WebSettings(serving_cache=False))
    with ServedApp(app) as served:
        yield AdminWorld(workspace, app, served.url, tokens)
        world_jobs = app.state.jobs
        deadline = time.monotonic() + 60
        while world_jobs.current is not None and time.monotonic() < deadline:
            time.sleep(0.1)
    workspace.close()
