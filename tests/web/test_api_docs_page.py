"""/api/docs: Swagger UI served with its assets from the installed package, no CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from conftest import ARTIFACTS, ServedApp
from vitalsign.store.workspace import init_workspace
from vitalsign.web import create_app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app of a new workspace, served; its base URL."""
    workspace = init_workspace(tmp_path_factory.mktemp("docs") / "ws")
    with ServedApp(create_app(workspace)) as app:
        yield app.url
    workspace.close()


def test_the_docs_page_names_no_external_url_and_its_assets_are_served(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:  # no sign-in, as openapi.json
        page = client.get("/api/docs")
        assert page.status_code == 200
        html = page.text
        assert not re.search(r"(https?:)?//", html), "the page must load nothing from elsewhere"
        assert "<script>" not in html  # no inline script: the CSP forbids it
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert {"/api/docs/assets/swagger-ui-bundle.js", "/static/swagger-init.js"} <= set(assets)
        for asset in assets:
            reply = client.get(asset)
            assert reply.status_code == 200, asset
            assert len(reply.content) > 100, asset
        bundle = client.get("/api/docs/assets/swagger-ui-bundle.js")
        assert "SwaggerUIBundle" in bundle.text
        assert bundle.headers["content-type"].startswith("text/javascript")
        init = client.get("/static/swagger-init.js").text
        assert "SwaggerUIBundle(" in init and "validatorUrl: null" in init
        assert client.get("/api/docs/assets/missing.js").status_code == 404


def test_swagger_ui_renders_every_route_offline_under_the_csp(
    chromium: object, served: str
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.set_default_timeout(20_000)
    elsewhere: list[str] = []
    problems: list[str] = []
    page.on(
        "request",
        lambda r: (
            elsewhere.append(r.url) if not r.url.startswith((served, "data:", "blob:")) else None
        ),
    )
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{served}/api/docs")
    page.wait_for_selector(".opblock-summary-path")
    shown = set(page.locator(".opblock-summary-path").all_inner_texts())
    paths = set(httpx.get(f"{served}/api/v1/openapi.json", timeout=30).json()["paths"])
    assert {p.replace("\u200b", "") for p in shown} == paths
    assert elsewhere == []
    assert problems == []
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    page.close()


def test_the_document_names_how_each_route_authenticates(served: str) -> None:
    document = httpx.get(f"{served}/api/v1/openapi.json", timeout=30).json()
    schemes = document["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            expected = "apiToken" if path.startswith("/api/v1/") else "writeKey"
            assert operation["security"] == [{expected: []}], path
    # what the document says holds: the API refuses no token, and a wrong one
    assert httpx.get(f"{served}/api/v1/me", timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer not-a-token"}
    assert httpx.get(f"{served}/api/v1/me", headers=wrong, timeout=30).status_code == 401
    assert httpx.post(f"{served}/v1/track", json={}, headers=wrong, timeout=30).status_code == 401
