"""The admin area in the browser: the /admin landing page, users and roles, API tokens.

Uses the shared web world; the users and tokens this module creates have names starting with
`adm-`, so no other module's users (root, maria, vic, alice, bob) are changed.
"""

from __future__ import annotations

from conftest import World

SECTIONS = ("/admin/users", "/admin/tokens", "/admin/sources", "/admin/jobs", "/admin/models")


def test_an_admin_reaches_the_admin_area_from_the_navigation(world: World) -> None:
    with world.login("root") as browser:
        portfolio = browser.get("/").text
        page = browser.get("/admin")
    assert 'id="nav-admin">Admin</a>' in portfolio
    assert page.status_code == 200
    for path in SECTIONS:
        assert f'href="{path}"' in page.text


def test_other_roles_neither_see_nor_open_the_admin_area(world: World) -> None:
    for user in ("maria", "alice", "vic"):
        with world.login(user) as browser:
            portfolio = browser.get("/").text
            refused = browser.get("/admin")
        assert "nav-admin" not in portfolio, user
        assert refused.status_code == 403, user
    with world.client() as anonymous:
        page = anonymous.get("/admin")
    assert page.status_code == 303 and "/login" in page.headers["location"]
