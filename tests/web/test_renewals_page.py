"""The renewals page and API over a real server: windows by band, ARR at risk, a csm's book."""

from __future__ import annotations

import datetime as dt
import re

from conftest import ALICE, BOB, World
from vitalsign.analytics.renewals import next_renewal


def _expected(world: World, owner: str | None = None) -> list[tuple[str, int]]:
    """Accounts renewing within 180 days of the latest snapshot, computed here in Python."""
    con = world.workspace.duckdb.cursor()
    rows = con.execute(
        "SELECT s.account_id, a.renewal_date, a.owner FROM scores s "
        "JOIN accounts a USING (account_id) WHERE s.snapshot_date = ? AND s.model_name = ?",
        [world.latest, "default"],
    ).fetchall()
    found = []
    for account, renewal, who in rows:
        upcoming = next_renewal(renewal, world.latest)
        if upcoming is None or (owner and who != owner):
            continue
        days = (upcoming - world.latest).days
        if 0 <= days <= 180:
            found.append((account, days))
    return sorted(found, key=lambda r: r[1])


def test_the_renewals_api_counts_the_windows_from_the_snapshot(world: World) -> None:
    with world.client("maria") as maria:
        body = maria.get("/api/v1/renewals").json()
    expected = _expected(world)
    assert body["as_of"] == world.latest.isoformat()
    assert sorted((i["account_id"], i["days_to_renewal"]) for i in body["items"]) == sorted(
        expected
    )
    windows = {w["days"]: w for w in body["windows"]}
    for days in (30, 60, 90, 180):
        assert windows[days]["accounts"] == sum(1 for _, d in expected if d <= days)
        assert windows[days]["accounts"] == sum(windows[days]["accounts_by_band"].values())
    red = sum(i["arr"] or 0 for i in body["items"] if i["band"] == body["at_risk_band"])
    assert abs(sum(m["arr_at_risk"] for m in body["months"]) - red) < 1e-6


def test_a_csm_sees_the_renewals_of_their_book_only(world: World) -> None:
    with world.client("alice") as alice:
        mine = alice.get("/api/v1/renewals").json()
        asked = alice.get("/api/v1/renewals", params={"owner": BOB}).json()
    assert {i["account_id"] for i in mine["items"]} == {a for a, _ in _expected(world, ALICE)}
    assert {i["owner"] for i in mine["items"]} <= {ALICE}
    assert asked["items"] == [] and asked["windows"][-1]["accounts"] == 0


def test_the_renewals_page_filters_by_owner_and_segment_and_exports_them(world: World) -> None:
    with world.login("maria") as maria:
        page = maria.get("/renewals", params={"owner": ALICE}).text
        segment = maria.get("/renewals", params={"segment": "enterprise"}).text
    assert 'class="on">Renewals' in page
    shown = set(re.findall(r'<tr data-account="([^"]+)"', page))
    assert shown == {a for a, _ in _expected(world, ALICE)}
    assert f'href="/renewals.csv?owner={ALICE.replace("@", "%40")}"' in page
    assert 'id="windows"' in page and ("chart-renewal-months" in page or "no-renewals" in page)
    rows = re.findall(r'<tr data-account="[^"]+">.*?</tr>', segment, re.S)
    assert all("<td>enterprise</td>" in r for r in rows)


def test_the_renewals_page_sends_a_stranger_to_sign_in(world: World) -> None:
    with world.client() as stranger:
        reply = stranger.get("/renewals")
        api = stranger.get("/api/v1/renewals")
    assert reply.status_code == 303 and "/login" in reply.headers["location"]
    assert api.status_code == 401


def test_a_wrong_snapshot_date_on_the_renewals_page_says_how_to_write_it(world: World) -> None:
    with world.login("vic") as viewer:
        wrong = viewer.get("/renewals", params={"as_of": "yesterday"})
        earlier = viewer.get("/renewals", params={"as_of": world.previous.isoformat()})
    assert wrong.status_code == 400 and "YYYY-MM-DD" in wrong.text
    assert earlier.status_code == 200 and f"ahead of {world.previous}" in earlier.text
    assert dt.date.fromisoformat(world.previous.isoformat()) < world.latest


def test_a_csms_renewals_page_and_its_export_hold_only_their_book(world: World) -> None:
    with world.login("alice") as alice:
        page = alice.get("/renewals", params={"owner": BOB}).text
        own = alice.get("/renewals").text
        export = alice.get("/renewals.csv", params={"within": 3650}).text
    assert re.findall(r'<tr data-account="([^"]+)"', page) == []
    assert 'name="owner"' not in own  # no owner filter for a csm
    shown = set(re.findall(r'<tr data-account="([^"]+)"', own))
    assert shown == {a for a, _ in _expected(world, ALICE)}
    assert BOB not in export


def test_the_renewals_page_lists_one_window_and_exports_the_same_rows(world: World) -> None:
    with world.login("maria") as maria:
        page = maria.get("/renewals", params={"within": 60}).text
        link = page.split('id="export-csv" href="')[1].split('"')[0]
        export = maria.get(link.replace("&amp;", "&")).text
        wrong = maria.get("/renewals", params={"within": 45})
    shown = re.findall(r'<tr data-account="([^"]+)"', page)
    assert sorted(shown) == sorted(a for a, d in _expected(world) if d <= 60)
    assert "within=60" in link
    exported = [line.split(",")[0] for line in export.strip().splitlines()[1:]]
    assert exported == shown
    assert wrong.status_code == 400 and "use one of 30, 60, 90, 180" in wrong.text
