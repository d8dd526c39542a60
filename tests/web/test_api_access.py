"""For every API route, a csm cannot read or change another owner's account.

The test walks the API router's route table: a route missing from ACCESS fails
`test_every_api_route_has_an_access_check`, so a new route cannot skip this review.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from conftest import ALICE, World
from vitalsign.store.overrides import add_override
from vitalsign.web.api import router


@dataclass(frozen=True)
class Access:
    """How bob (a csm) calls a route aimed at alice's data, and what must hold."""

    kind: str  # "one", "role": refused (403); "list", "csv": answered without alice's accounts
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/me"): Access("none"),
    ("GET", "/api/v1/model"): Access("none"),
    ("POST", "/api/v1/model/backtest"): Access("role"),
    ("GET", "/api/v1/accounts"): Access("list", {"owner": ALICE}),
    ("GET", "/api/v1/scores"): Access("list", {"owner": ALICE}),
    ("GET", "/api/v1/portfolio"): Access("list"),
    ("GET", "/api/v1/portfolio/trend"): Access("list"),
    ("GET", "/api/v1/alerts"): Access("list", {"owner": ALICE, "status": "all"}),
    ("GET", "/api/v1/tasks"): Access("list", {"status": "all"}),
    ("GET", "/api/v1/accounts/{account_id}"): Access("one"),
    ("GET", "/api/v1/accounts/{account_id}/score"): Access("one"),
    ("GET", "/api/v1/accounts/{account_id}/history"): Access("one"),
    ("GET", "/api/v1/accounts/{account_id}/explain"): Access("one"),
    ("GET", "/api/v1/accounts/{account_id}/overrides"): Access("one"),
    ("GET", "/api/v1/accounts/{account_id}/audit"): Access("one"),
    ("POST", "/api/v1/accounts/{account_id}/overrides"): Access(
        "one", body={"target": "band", "value": "green", "reason": "mine now"}
    ),
    ("POST", "/api/v1/accounts/{account_id}/overrides/{override_id}/revoke"): Access(
        "one", body={"reason": "mine now"}
    ),
    ("GET", "/api/v1/alerts/{alert_id}"): Access("one"),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): Access("one", body={}),
    ("POST", "/api/v1/alerts/{alert_id}/feedback"): Access("one", body={"useful": False}),
    ("GET", "/api/v1/tasks/{task_id}"): Access("one"),
    ("PATCH", "/api/v1/tasks/{task_id}"): Access("one", body={"status": "in_progress"}),
    ("GET", "/api/v1/users"): Access("role"),
    ("POST", "/api/v1/users/{name}/disable"): Access("role"),
    ("POST", "/api/v1/users/{name}/enable"): Access("role"),
    ("DELETE", "/api/v1/users/{name}"): Access("role"),
    ("POST", "/api/v1/tokens/{token_id}/revoke"): Access("role"),
    ("GET", "/api/v1/accounts/{account_id}/timeline"): Access("one"),
    ("GET", "/api/v1/accounts/{account_id}/notes"): Access("one"),
    ("POST", "/api/v1/accounts/{account_id}/notes"): Access("one", body={"body": "mine now"}),
    ("GET", "/api/v1/accounts/{account_id}/contacts"): Access("one"),
    ("GET", "/api/v1/renewals"): Access("list", {"owner": ALICE}),
    ("GET", "/api/v1/expansion"): Access("list", {"limit": "200"}),
    ("GET", "/api/v1/accounts/{account_id}/expansion"): Access("one"),
    ("GET", "/api/v1/accounts.csv"): Access("csv", {"owner": ALICE}),
    ("GET", "/api/v1/alerts.csv"): Access("csv", {"owner": ALICE, "status": "all"}),
    ("GET", "/api/v1/tasks.csv"): Access("csv", {"status": "all"}),
    ("GET", "/api/v1/renewals.csv"): Access("csv", {"owner": ALICE, "within": "3650"}),
}


def api_routes() -> list[tuple[str, str]]:
    """Every (method, path) the API router serves."""
    return sorted(
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    )


@pytest.fixture(scope="module")
def alice_ids(world: World) -> dict[str, str]:
    """Ids of alice's alert, task and override (made by the admin)."""
    con = world.workspace.duckdb.cursor()
    account = world.alice_account
    alert = con.execute(
        "SELECT alert_id FROM alerts WHERE account_id = ? ORDER BY alert_id LIMIT 1", [account]
    ).fetchone()[0]
    task = con.execute(
        "SELECT task_id FROM tasks WHERE account_id = ? ORDER BY task_id LIMIT 1", [account]
    ).fetchone()[0]
    override = add_override(con, account, "band", "yellow", "admin's call", "root")
    token = con.execute("SELECT token_id FROM web_tokens WHERE user_name = 'alice'").fetchone()[0]
    return {
        "account_id": account,
        "alert_id": alert,
        "task_id": task,
        "override_id": override,
        "name": "alice",
        "token_id": token,
    }


def _state(world: World, ids: dict[str, str]) -> str:
    """Everything a refused change could have touched, as text."""
    con = world.workspace.duckdb.cursor()
    rows = [
        con.execute("SELECT * FROM alerts WHERE alert_id = ?", [ids["alert_id"]]).fetchall(),
        con.execute("SELECT * FROM tasks WHERE task_id = ?", [ids["task_id"]]).fetchall(),
        con.execute("SELECT * FROM overrides WHERE account_id = ?", [ids["account_id"]]).fetchall(),
        con.execute("SELECT count(*) FROM audit_log").fetchall(),
    ]
    return json.dumps(rows, default=str)


def _alice_accounts(world: World) -> set[str]:
    rows = (
        world.workspace.duckdb.cursor()
        .execute("SELECT account_id FROM accounts WHERE owner = ?", [ALICE])
        .fetchall()
    )
    return {r[0] for r in rows}


def _leaks(body: Any, accounts: set[str]) -> list[str]:
    """Return alice's account ids or owner name found anywhere in a JSON body."""
    text = json.dumps(body)
    found = [a for a in accounts if f'"{a}"' in text]
    return found + ([ALICE] if ALICE in text else [])


def test_every_api_route_has_an_access_check() -> None:
    assert set(api_routes()) == set(ACCESS), (
        "add each new API route to ACCESS with how a csm must be limited on it"
    )


@pytest.mark.parametrize(("method", "path"), api_routes())
def test_a_csm_cannot_read_or_change_another_owners_account(
    world: World, alice_ids: dict[str, str], method: str, path: str
) -> None:
    access = ACCESS.get((method, path))
    assert access is not None, f"{method} {path} is missing from ACCESS"
    url = path.format(**alice_ids)
    before = _state(world, alice_ids)
    call: Callable[..., httpx.Response]
    with world.client("bob") as bob:
        call = getattr(bob, method.lower())
        kwargs: dict[str, Any] = {"params": access.params}
        if access.body is not None:
            kwargs["json"] = access.body
        reply = call(url, **kwargs)
    if access.kind in ("one", "role"):
        assert reply.status_code == 403, (method, path, reply.status_code, reply.text)
        assert reply.json()["error"]["code"] == "forbidden"
    else:
        assert reply.status_code == 200, (method, path, reply.text)
        if access.kind == "list":
            assert _leaks(reply.json(), _alice_accounts(world)) == []
        if access.kind == "csv":
            text = reply.text
            assert [a for a in (*_alice_accounts(world), ALICE) if a in text] == []
    assert _state(world, alice_ids) == before


@pytest.mark.parametrize(
    "path", [path for (method, path), v in ACCESS.items() if v.kind == "one" and method == "GET"]
)
def test_the_owning_csm_reads_the_same_routes(
    world: World, alice_ids: dict[str, str], path: str
) -> None:
    with world.client("alice") as alice:
        reply = alice.get(path.format(**alice_ids))
    assert reply.status_code == 200, reply.text
