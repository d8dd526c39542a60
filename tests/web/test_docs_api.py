"""docs/api.md names every API route, and docs/web.md every page and `users` command."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute

from vitalsign.web import pages
from vitalsign.web.api import router
from vitalsign.web.commands import users_app

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_api_route_is_documented() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    missing = [
        f"{method} {route.path}"
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
        if f"`{method} {route.path}" not in text
    ]
    assert missing == [], f"document these routes in docs/api.md: {missing}"


def test_every_page_and_users_command_is_documented() -> None:
    text = (DOCS / "web.md").read_text(encoding="utf-8")
    shown = [
        route.path
        for route in pages.router.routes
        if isinstance(route, APIRoute) and "GET" in route.methods and "{" not in route.path
    ]
    missing = [path for path in shown if path != "/login" and f"`{path}`" not in text]
    commands = [c.name for c in users_app.registered_commands]
    missing += [f"users {c}" for c in commands if f"vitalsign users {c}" not in text]
    assert missing == [], f"document these in docs/web.md: {missing}"
