"""/api/v1/openapi.json describes every answer with a typed schema, and the answers fit it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from conftest import PASSWORD, ServedApp
from vitalsign.alerts.inbox import Alert
from vitalsign.alerts.tasks import Task
from vitalsign.engine.run import score
from vitalsign.store.workspace import init_workspace
from vitalsign.web import create_app
from vitalsign.web.inbox_schemas import AlertOut, TaskOut
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user
from world import T, load_tiny_world


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The OpenAPI document of the app of a new workspace."""
    workspace = init_workspace(Path(tmp_path_factory.mktemp("openapi")) / "ws")
    try:
        found: dict[str, Any] = create_app(workspace).openapi()
    finally:
        workspace.close()
    return found


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def _typed(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema says what is in the body: named properties, items of such, or plain text."""
    schema = _resolve(document, schema)
    if schema.get("type") == "string":  # text/csv
        return True
    if schema.get("type") == "array":
        return _typed(document, schema.get("items", {}))
    return bool(schema.get("properties"))


def test_every_route_has_a_typed_success_schema(document: dict[str, Any]) -> None:
    untyped = []
    count = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            successes = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
            assert successes, f"{method.upper()} {path} documents no success answer"
            for code, response in successes.items():
                count += 1
                content = response.get("content", {})
                if not content or not all(
                    _typed(document, c.get("schema", {})) for c in content.values()
                ):
                    untyped.append(f"{method.upper()} {path} {code}")
    assert count >= 30  # the REST API, the users routes and the event API
    assert untyped == [], f"give these routes a typed response model: {untyped}"


def test_the_documented_fields_of_the_main_answers(document: dict[str, Any]) -> None:
    def fields(path: str, method: str = "get", code: str = "200") -> dict[str, Any]:
        content = document["paths"][path][method]["responses"][code]["content"]
        schema = _resolve(document, content["application/json"]["schema"])
        props: dict[str, Any] = schema["properties"]
        return props

    page = fields("/api/v1/accounts")
    assert {"as_of", "items", "page", "per_page", "total", "pages"} <= set(page)
    row = _resolve(document, page["items"]["items"])["properties"]
    assert {"account_id", "score", "band", "coverage", "arr", "renewal_date"} <= set(row)
    assert row["score"]["anyOf"][0]["type"] == "number"
    created = fields("/api/v1/accounts/{account_id}/overrides", "post", "201")
    assert {"override_id", "account_id", "rescored"} <= set(created)
    alert = _resolve(document, fields("/api/v1/alerts")["items"]["items"])["properties"]
    assert {"alert_id", "rule", "severity", "status", "fired_values"} <= set(alert)
    assert {"success", "received", "loaded", "duplicates", "quarantined"} <= set(
        fields("/v1/track", "post")
    )


@pytest.fixture(scope="module")
def tiny_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The tiny world scored on two dates, served; its URL and an admin's API token."""
    workspace = init_workspace(Path(tmp_path_factory.mktemp("typed")) / "ws")
    load_tiny_world(workspace.duckdb)
    for day in (T - dt.timedelta(days=7), T):
        score(workspace, day)
    add_user(workspace.duckdb, "root", "admin", PASSWORD, None, actor="test")
    token = create_token(workspace.duckdb, "root", "tests", actor="test")[1]
    with ServedApp(create_app(workspace)) as app:
        yield app.url, token
    workspace.close()


def test_the_served_answers_fit_their_schemas(tiny_served: tuple[str, str]) -> None:
    """FastAPI validates each answer against its model: a misfit would answer 500."""
    url, token = tiny_served
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=30) as client:
        for path in (
            "/me",
            "/accounts",
            "/scores",
            "/accounts/A",
            "/accounts/A/score",
            "/accounts/A/history",
            "/accounts/A/audit",
            "/portfolio",
            "/portfolio/trend",
            "/model",
            "/alerts?status=all",
            "/tasks?status=all",
            "/users",
        ):
            reply = client.get(path)
            assert reply.status_code == 200, (path, reply.text[:300])
        body = {"target": "band", "value": "green", "reason": "renewal signed"}
        created = client.post("/accounts/A/overrides", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["rescored"]["band"] == "green"
        listed = client.get("/accounts/A/overrides").json()["items"]
        assert [o["override_id"] for o in listed] == [created.json()["override_id"]]
        revoked = client.post(
            f"/accounts/A/overrides/{listed[0]['override_id']}/revoke", json={"reason": "no"}
        )
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        # the typed answers keep every field the routes sent before they were typed
        row = client.get("/accounts?per_page=1").json()["items"][0]
        assert {"recent_scores", "previous_score", "days_to_renewal", "flags"} <= set(row)
        assert client.get("/accounts/A/history").json()["items"][-1]["snapshot_date"] == str(T)


@pytest.mark.parametrize(("model", "record"), [(AlertOut, Alert), (TaskOut, Task)])
def test_the_alert_and_task_schemas_name_every_field_they_send(
    model: type[BaseModel], record: type
) -> None:
    sent = {f.name for f in dataclasses.fields(record)}
    assert sent <= set(model.model_fields)
