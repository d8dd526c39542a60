"""Empty states (a csm whose book is empty) and the 404 and 403 pages, with navigation."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from conftest import BOB, PASSWORD, World
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

NOBODY = "zoe@nowhere.example"  # no account has this owner
FIGURE = re.compile(r'<script type="application/json" id="figure-')


@pytest.fixture(scope="module")
def zoe(world: World) -> Iterator[str]:
    """A csm whose book holds no account; her API token."""
    con = world.workspace.duckdb.cursor()
    add_user(con, "zoe", "csm", PASSWORD, NOBODY, actor="test")
    yield create_token(con, "zoe", "tests", actor="test")[1]


def _main(page: str) -> str:
    return page[page.index("<main>") :]


def test_a_csm_with_no_accounts_sees_an_empty_book_not_empty_charts(world: World, zoe: str) -> None:
    with world.login("zoe") as browser:
        portfolio = browser.get("/")
        accounts = browser.get("/accounts")
        alerts = browser.get("/alerts")
        summary = browser.get("/api/v1/portfolio").json()
    assert portfolio.status_code == accounts.status_code == alerts.status_code == 200
    page = portfolio.text
    assert 'id="empty-book"' in page and f"Your book has no accounts on {world.latest}" in page
    assert NOBODY in page and "vitalsign users" in page
    assert not FIGURE.search(page), "no chart of nothing (a date axis from Jan 2000)"
    assert "plotly" not in page  # no chart script loaded either
    assert 'id="headline"' not in page and "; $0 ARR" not in page
    assert summary["accounts"] == 0
    assert summary["headline"] == f"No accounts scored on {world.latest}"
    assert (
        "Your book has no accounts" in accounts.text and "No account matches" not in accounts.text
    )
    assert "No alert here." in alerts.text


def test_a_filter_that_matches_nothing_says_so(world: World) -> None:
    with world.login("maria") as browser:
        page = browser.get("/accounts", params={"q": "no such account anywhere"}).text
    assert "No account matches these filters." in page


def test_a_missing_page_is_a_404_page_with_the_navigation(world: World) -> None:
    with world.login("vic") as browser:
        missing = browser.get("/no-such-page")
        unknown = browser.get("/accounts/no-such-account")
    for reply in (missing, unknown):
        assert reply.status_code == 404
        assert reply.headers["content-type"].startswith("text/html")
        assert "<nav>" in reply.text and ">vic</span>" in reply.text  # the site's menu
        assert 'class="error-links"' in reply.text and 'href="/accounts"' in _main(reply.text)
    assert "there is no page at /no-such-page" in missing.text
    assert "unknown account" in unknown.text


def test_a_refusal_is_a_403_page_with_the_navigation_and_who_is_signed_in(world: World) -> None:
    with world.login("alice") as browser:
        refused = browser.get(f"/accounts/{world.bob_account}")
        status = browser.get("/status")
    for reply in (refused, status):
        assert reply.status_code == 403
        assert reply.headers["content-type"].startswith("text/html")
        assert "<nav>" in reply.text and 'class="error-links"' in reply.text
        assert "You are signed in as alice (csm" in reply.text
    assert BOB in refused.text or "not in your book" in refused.text


def test_a_stranger_gets_the_404_page_with_a_sign_in_link(world: World) -> None:
    with world.client() as browser:
        missing = browser.get("/no-such-page")
    assert missing.status_code == 404 and "<nav>" not in missing.text
    assert 'href="/login"' in _main(missing.text)


def test_api_routes_keep_their_json_errors(world: World) -> None:
    with world.client("alice") as api:
        missing = api.get("/api/v1/no-such-route")
        refused = api.get(f"/api/v1/accounts/{world.bob_account}/score")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert missing.headers["content-type"] == refused.headers["content-type"] == "application/json"
