"""Live data on the web: an owner change moves an account between books; custom fields show.

A tiny workspace with two custom account fields, one account loaded from a real CSV file and
scored, two csms (ann and bob), served over real HTTP; then the export changes the owner and
is loaded again, and the same server answers for the new book at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import PASSWORD, ServedApp
from live_world import live_workspace, load_export
from vitalsign.engine.run import score
from vitalsign.store.workspace import Workspace
from vitalsign.web import WebSettings, create_app
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

MODEL = """\
name: live
min_coverage: 0.1
signals:
  seats: {attribute: seats, scale: {type: linear, low: 0, high: 100}}
scorecards:
  default:
    main: {signals: {seats: 1}}
default_scorecard: default
bands:
  - {name: green, min: 70}
  - {name: yellow, min: 40}
  - {name: red, min: 0}
"""

ANN, BOB = "ann@x.test", "bob@x.test"
BEFORE = f"a1,Acme,2023-01-01,{ANN},smb,20,1000,2025-01-01,silver,true,2024-01-01\n"
AFTER = f"a1,Acme,2023-01-01,{BOB},smb,20,1000,2025-01-01,gold,true,2024-06-01\n"


def _load(ws: Workspace, path: Path, row: str) -> None:
    load_export(ws, path, row)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Workspace, str, dict[str, str]]]:
    """The workspace with ann's account scored, served; yields it, the URL and API tokens."""
    ws = live_workspace(tmp_path / "ws", MODEL)
    _load(ws, tmp_path / "before.csv", BEFORE)
    score(ws, dt.date(2024, 3, 1))
    tokens = {}
    for name, owner in (("ann", ANN), ("bob", BOB)):
        add_user(ws.duckdb, name, "csm", PASSWORD, owner, actor="test")
        tokens[name] = create_token(ws.duckdb, name, "tests", actor="test")[1]
    with ServedApp(create_app(ws, WebSettings())) as served:
        yield ws, served.url, tokens
    ws.close()


@contextmanager
def _session(url: str, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        client.get("/login")
        token = client.cookies["vitalsign_login_csrf"]
        data = {"username": user, "password": PASSWORD, "csrf_token": token}
        assert client.post("/login", data=data).status_code == 303
        yield client


def _book(url: str, token: str) -> tuple[list[str], int, int]:
    """The accounts a user sees in the list, in the portfolio, and the account's status code."""
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        listed = [a["account_id"] for a in api.get("/api/v1/accounts").json()["items"]]
        counted = int(api.get("/api/v1/portfolio").json()["accounts"])
        return listed, counted, api.get("/api/v1/accounts/a1").status_code


def test_an_owner_change_moves_the_account_to_the_new_owners_book(
    live: tuple[Workspace, str, dict[str, str]], tmp_path: Path
) -> None:
    ws, url, tokens = live
    assert _book(url, tokens["ann"]) == (["a1"], 1, 200)
    assert _book(url, tokens["bob"]) == ([], 0, 403)
    _load(ws, tmp_path / "after.csv", AFTER)
    assert _book(url, tokens["bob"]) == (["a1"], 1, 200)
    assert _book(url, tokens["ann"]) == ([], 0, 403)
    with _session(url, "bob") as bob, _session(url, "ann") as ann:
        assert '/accounts/a1"' in bob.get("/accounts").text
        assert '/accounts/a1"' not in ann.get("/accounts").text
        assert ann.get("/accounts/a1").status_code == 403


def test_custom_fields_and_changes_show_on_the_account_page_and_in_the_api(
    live: tuple[Workspace, str, dict[str, str]], tmp_path: Path
) -> None:
    ws, url, tokens = live
    _load(ws, tmp_path / "after.csv", AFTER.replace(BOB, ANN))  # tier silver -> gold
    headers = {"Authorization": f"Bearer {tokens['ann']}"}
    body = httpx.get(f"{url}/api/v1/accounts/a1", headers=headers, timeout=30).json()
    assert body["custom_fields"] == {"tier": "gold", "integrations_ok": True}
    assert "tier" not in body["attributes"] and "deleted_at" not in body["attributes"]
    assert body["attributes"]["owner"] == ANN and body["deleted_at"] is None
    assert body["changes"] == [
        {
            "column": "tier",
            "before": "silver",
            "after": "gold",
            "valid_from": "2024-06-01T00:00:00",
        }
    ]
    with _session(url, "ann") as ann:
        page = ann.get("/accounts/a1").text
    assert '<div class="custom-field" data-field="tier" title="CRM tier">tier gold</div>' in page
    assert 'data-field="integrations_ok">integrations_ok True</div>' in page
    assert "tier changed from <strong>silver</strong> to <strong>gold</strong> on 2024-06-01" in (
        page
    )
    assert "deleted_at" not in page


def test_an_account_not_in_the_history_shows_its_fields_from_the_accounts_table(
    live: tuple[Workspace, str, dict[str, str]],
) -> None:
    ws, url, tokens = live
    ws.duckdb.execute("DELETE FROM account_history")  # as in a workspace filled by plain SQL
    headers = {"Authorization": f"Bearer {tokens['ann']}"}
    body = httpx.get(f"{url}/api/v1/accounts/a1", headers=headers, timeout=30).json()
    assert body["custom_fields"] == {"tier": "silver", "integrations_ok": True}
    assert body["changes"] == []
    with _session(url, "ann") as ann:
        page = ann.get("/accounts/a1").text
    assert 'title="CRM tier">tier silver</div>' in page and 'id="changes"' not in page
