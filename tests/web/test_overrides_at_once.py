"""An override shows at once on the account page, the account list and the portfolio.

Recording one (form or API) re-scores the account's latest snapshot; the form preselects no
band. Each test overrides accounts of its own owner (judy, ken) in the shared world.
"""

from __future__ import annotations

import re
from typing import Any

from conftest import World


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def _green_account(world: World, owner: str) -> tuple[str, str]:
    """An account of `owner` that is green on the latest snapshot, and its name."""
    row = (
        world.workspace.duckdb.cursor()
        .execute(
            "SELECT account_id, name FROM scores WHERE snapshot_date = ? AND owner = ? "
            "AND band = 'green' AND band = computed_band ORDER BY account_id LIMIT 1",
            [world.latest, owner],
        )
        .fetchone()
    )
    assert row is not None, f"the demo world gives {owner} a green account"
    return str(row[0]), str(row[1])


def _listed_band(html: str, account: str) -> str:
    row = re.search(rf'<tr data-account="{account}">(.*?)</tr>', html, re.S)
    assert row, f"{account} is listed"
    band = re.search(r'<span class="band band-[^"]+">([^<]+)</span>', row.group(1))
    assert band
    return band.group(1)


def _overridden(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {o["account_id"]: (o["band"], o["computed_band"]) for o in report["overrides"]}


def test_the_override_form_preselects_no_band_and_asks_for_one(world: World) -> None:
    account, _ = _green_account(world, "judy@vendor.example")
    with world.login("maria") as browser:
        page = browser.get(f"/accounts/{account}").text
        form = re.search(r'<form[^>]*data-target="band">(.*?)</form>', page, re.S)
        assert form, "the account page has the band override form"
        options = re.findall(r"<option([^>]*)>([^<]*)</option>", form.group(1))
        assert options[0] == (' value="" selected disabled', "choose a band")
        assert [o for o, _ in options[1:]] == [f' value="{b}"' for b in ("green", "yellow", "red")]
        for data in ({}, {"value": ""}):  # the select left alone: no value, or an empty one
            refused = browser.post(
                f"/accounts/{account}/overrides",
                data={"target": "band", "reason": "no band", "csrf_token": _csrf(page), **data},
            )
            assert refused.status_code == 400
            assert "choose a band: green, yellow, red" in refused.text
            assert "<nav>" in refused.text  # the error page keeps the navigation
    recorded = (
        world.workspace.duckdb.cursor()
        .execute("SELECT count(*) FROM overrides WHERE account_id = ?", [account])
        .fetchone()
    )
    assert recorded == (0,)


def test_an_override_from_the_form_shows_at_once_on_the_page_list_and_portfolio(
    world: World,
) -> None:
    account, _ = _green_account(world, "judy@vendor.example")
    with world.login("maria") as browser:
        before = browser.get("/api/v1/portfolio").json()
        page = browser.get(f"/accounts/{account}").text
        reply = browser.post(
            f"/accounts/{account}/overrides",
            data={
                "target": "band",
                "value": "red",
                "reason": "exec sponsor left last week",
                "csrf_token": _csrf(page),
            },
        )
        assert reply.status_code == 303, reply.text
        shown = browser.get(reply.headers["location"]).text
        listed = browser.get("/accounts", params={"q": account}).text
        reds = browser.get("/accounts", params={"band": "red", "per_page": 500}).text
        portfolio = browser.get("/").text
        after = browser.get("/api/v1/portfolio").json()
    assert "the latest snapshot shows it now" in shown
    band = re.search(r'id="band">(.*?)</div>', shown, re.S)
    assert band and re.search(r'band-red">red</span>.*override · computed.*>green<', band.group(1))
    assert 'id="pending-override"' not in shown
    assert "override.rescore" in shown  # the audit trail
    assert _listed_band(listed, account) == "red" and account in reds
    assert _overridden(after)[account] == ("red", "green")
    assert len(after["overrides"]) == len(before["overrides"]) + 1
    assert f"{len(after['overrides'])} accounts show an overridden band" in portfolio
    counts = {b["band"]: b["accounts"] for b in after["bands"]}
    counted = {b["band"]: b["accounts"] for b in before["bands"]}
    assert counts["red"] == counted["red"] + 1 and counts["green"] == counted["green"] - 1


def test_an_override_through_the_api_shows_at_once_and_a_revocation_too(world: World) -> None:
    account, _ = _green_account(world, "ken@vendor.example")
    with world.client("maria") as api:
        made = api.post(
            f"/api/v1/accounts/{account}/overrides",
            json={"target": "band", "value": "yellow", "reason": "renewal call went badly"},
        )
        assert made.status_code == 201, made.text
        score = api.get(f"/api/v1/accounts/{account}/score").json()
        listed = api.get("/api/v1/accounts", params={"q": account}).json()["items"]
        portfolio = api.get("/api/v1/portfolio").json()
        revoked = api.post(
            f"/api/v1/accounts/{account}/overrides/{made.json()['override_id']}/revoke",
            json={"reason": "the renewal is signed"},
        )
        score_after = api.get(f"/api/v1/accounts/{account}/score").json()
        portfolio_after = api.get("/api/v1/portfolio").json()
    rescored = made.json()["rescored"]
    assert rescored["band"] == "yellow" and rescored["computed_band"] == "green"
    assert rescored["snapshot_date"] == world.latest.isoformat()
    assert (score["band"], score["computed_band"]) == ("yellow", "green")
    assert [(r["account_id"], r["band"]) for r in listed] == [(account, "yellow")]
    assert _overridden(portfolio)[account] == ("yellow", "green")
    assert revoked.status_code == 200 and revoked.json()["rescored"]["band"] == "green"
    assert score_after["band"] == "green" and account not in _overridden(portfolio_after)


def test_an_earlier_snapshot_keeps_what_was_in_force_then(world: World) -> None:
    account, _ = _green_account(world, "ken@vendor.example")
    with world.client("root") as api:
        before = api.get(f"/api/v1/accounts/{account}/history").json()["items"]
        api.post(
            f"/api/v1/accounts/{account}/overrides",
            json={"target": "band", "value": "red", "reason": "lost the champion"},
        ).raise_for_status()
        after = api.get(f"/api/v1/accounts/{account}/history").json()["items"]
    assert [h["band"] for h in after] == [h["band"] for h in before[:-1]] + ["red"]
    assert after[-1]["snapshot_date"][:10] == world.latest.isoformat()
