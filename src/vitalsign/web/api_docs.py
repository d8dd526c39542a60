"""The API's documentation page (Swagger UI) served offline, from the installed package.

FastAPI's own /docs loads Swagger UI from a CDN and starts it with an inline script, which
the app's Content-Security-Policy refuses. Here the assets come from the pinned
`fastapi-offline` wheel (Swagger UI 5, Apache-2.0, under the wheel's MIT licence) and the
page starts it with a script of our own static folder, so it works without the internet.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
ASSETS_PATH = "/api/docs/assets"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")

router = APIRouter(include_in_schema=False)

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A user's API token (`vitalsign users token`); a signed-in browser "
        "may use its session cookie instead (changes then need the X-CSRF-Token header).",
    },
    "writeKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The event API's write key (`vitalsign ingest-key`), also accepted "
        "as the HTTP Basic user name.",
    },
}


def assets_folder() -> Path:
    """The folder of the installed Swagger UI files (swagger-ui-bundle.js, swagger-ui.css)."""
    folder = Path(str(resources.files("fastapi_offline").joinpath("static")))
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:  # a broken install is a bug of the environment: keep the traceback
        raise FileNotFoundError(f"{folder}: Swagger UI assets missing: {', '.join(missing)}")
    return folder


def docs_page(openapi_url: str, title: str) -> str:
    """The HTML of the docs page: local assets only, no inline script."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" href="{ASSETS_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


@router.get(DOCS_PATH, response_class=HTMLResponse)
def api_docs_page() -> HTMLResponse:
    """The Swagger UI page of /api/v1/openapi.json (no sign-in, as the document itself)."""
    return HTMLResponse(docs_page("/api/v1/openapi.json", "vitalsign"))


def _scheme(path: str) -> str | None:
    if path.startswith("/api/v1/"):
        return "apiToken"
    if path.startswith("/v1/"):
        return "writeKey"
    return None


def declare_security(document: dict[str, Any]) -> dict[str, Any]:
    """Name how each route authenticates, so Swagger UI's Authorize sends the right token."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, operations in document.get("paths", {}).items():
        scheme = _scheme(path)
        if scheme is not None:
            for operation in operations.values():
                operation["security"] = [{scheme: []}]
    return document


def install_api_docs(app: FastAPI) -> None:
    """Serve the docs page and its assets on `app`; the document names its security."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_security(build())
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented way to extend it
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_folder()), name="api-docs-assets")
