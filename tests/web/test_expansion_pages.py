"""Expansion candidates on the portfolio and account pages and in the API, over a real server."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest

from conftest import ALICE, ARTIFACTS, World, needs_chromium, sign_in


def _expected(world: World, owner: str | None = None) -> list[tuple[str, float, float]]:
    """(account, expansion score, ARR) of the latest snapshot's candidates, computed here."""
    con = world.workspace.duckdb.cursor()
    minimum = world.workspace.load_model().spec.expansion.candidate_min  # type: ignore[union-attr]
    rows = con.execute(
        "SELECT e.account_id, e.score, s.arr, a.owner FROM expansion_scores e "
        "JOIN scores s USING (snapshot_date, model_name, account_id) "
        "JOIN accounts a ON a.account_id = e.account_id WHERE e.snapshot_date = ?",
        [world.latest],
    ).fetchall()
    kept = [
        (a, float(score), float(arr or 0))
        for a, score, arr, who in rows
        if score is not None and score >= minimum and (owner is None or who == owner)
    ]
    return sorted(kept, key=lambda r: (-r[1], -r[2], r[0]))


def _get(world: World, user: str | None, path: str, **params: Any) -> httpx.Response:
    with world.client(user) as client:
        return client.get(path, params=params)


def _not_alices(world: World) -> list[str]:
    mine = {a for a, _, _ in _expected(world, ALICE)}
    return [a for a, _, _ in _expected(world) if a not in mine]


def test_the_world_has_expansion_candidates_in_and_out_of_alices_book(world: World) -> None:
    assert len(_expected(world)) >= 5
    assert _expected(world, ALICE) and _not_alices(world)


def test_the_api_lists_the_top_candidates_with_arr(world: World) -> None:
    reply = _get(world, "maria", "/api/v1/expansion", limit=200)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = _expected(world)
    assert body["as_of"] == world.latest.isoformat() and body["count"] == len(expected)
    assert [i["account_id"] for i in body["items"]] == [a for a, _, _ in expected]
    assert body["arr"] == pytest.approx(sum(arr for _, _, arr in expected))
    for item in body["items"]:
        assert item["expansion_score"] >= body["candidate_min"]
        total = sum(c["contribution"] for c in item["contributions"])
        assert total == pytest.approx(item["expansion_score"], abs=1e-3)
    top = _get(world, "maria", "/api/v1/expansion", limit=3).json()
    assert [i["account_id"] for i in top["items"]] == [a for a, _, _ in expected[:3]]
    assert top["count"] == len(expected)


def test_a_csm_gets_the_candidates_of_their_book_only(world: World) -> None:
    body = _get(world, "alice", "/api/v1/expansion", limit=200).json()
    assert [i["account_id"] for i in body["items"]] == [a for a, _, _ in _expected(world, ALICE)]
    assert {i["owner"] for i in body["items"]} == {ALICE}


def test_the_account_api_gives_the_score_and_refuses_another_book(world: World) -> None:
    account, score, _ = _expected(world, ALICE)[0]
    mine = _get(world, "alice", f"/api/v1/accounts/{account}/expansion")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["candidate"] is True
    assert body["expansion"]["expansion_score"] == pytest.approx(score)
    refused = _get(world, "bob", f"/api/v1/accounts/{account}/expansion")
    assert refused.status_code == 403 and "not in your book" in refused.text
    assert "expansion_score" not in refused.text


@pytest.mark.parametrize("path", ["/api/v1/expansion", "/api/v1/accounts/{account}/expansion"])
def test_anonymous_callers_are_refused(world: World, path: str) -> None:
    reply = _get(world, None, path.format(account=world.alice_account))
    assert reply.status_code == 401
    assert "expansion_score" not in reply.text


def test_the_portfolio_page_shows_candidates_a_csm_only_theirs(world: World) -> None:
    expected = _expected(world)
    with world.login("maria") as maria:
        page = html.unescape(maria.get("/").text)
    section = page[page.index('id="expansion-candidates"') :]
    section = section[: section.index("</section>")]
    assert expected[0][0] in section and f"{len(expected):,} account" in section
    assert all(a in section for a, _, _ in expected[:10])
    with world.login("alice") as alice:
        own = html.unescape(alice.get("/").text)
    own = own[own.index('id="expansion-candidates"') :]
    own = own[: own.index("</section>")]
    assert "in your book" in own
    assert not [a for a in _not_alices(world) if a in own]
    assert _expected(world, ALICE)[0][0] in own


def test_the_account_page_shows_the_expansion_score_and_its_signals(world: World) -> None:
    account, score, _ = _expected(world, ALICE)[0]
    with world.login("alice") as alice:
        page = html.unescape(alice.get(f"/accounts/{account}").text)
        other = alice.get(f"/accounts/{_not_alices(world)[0]}")
    panel = page[page.index('id="account-expansion"') :]
    panel = panel[: panel.index("</section>")]
    assert 'id="expansion-candidate"' in panel and f"{score:.1f}" in panel
    model = world.workspace.load_model().spec
    assert model.expansion is not None
    assert all(name in panel for name in model.expansion.signals)
    assert other.status_code == 403  # another owner's candidate is not alice's to see


def test_anonymous_visitors_are_sent_to_the_login_page(world: World) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as anonymous:
        reply = anonymous.get("/", follow_redirects=False)
    assert reply.status_code in (302, 303, 307) and "/login" in reply.headers["location"]


@needs_chromium
def test_a_csm_follows_an_expansion_candidate_in_chromium(world: World, chromium: object) -> None:
    account = _expected(world, ALICE)[0][0]
    page = sign_in(chromium, world.url, "alice")
    table = page.locator("#expansion-table")  # type: ignore[attr-defined]
    table.scroll_into_view_if_needed()
    assert table.locator("tbody tr").count() == len(_expected(world, ALICE))
    page.locator("#expansion-candidates").screenshot(  # type: ignore[attr-defined]
        path=str(ARTIFACTS / "expansion-candidates.png")
    )
    table.locator(f"a[href$='/accounts/{account}']").click()
    page.wait_for_url(f"**/accounts/{account}")  # type: ignore[attr-defined]
    panel = page.locator("#account-expansion")  # type: ignore[attr-defined]
    assert panel.locator("#expansion-candidate").is_visible()
    assert panel.locator("#expansion-signals tbody tr").count() >= 3
    panel.screenshot(path=str(ARTIFACTS / "account-expansion.png"))
    page.close()  # type: ignore[attr-defined]
