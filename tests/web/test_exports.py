"""CSV exports of every list over a real server: the list's filters, a csm's book, refusals."""

from __future__ import annotations

import csv
import html
import io

import pytest

from conftest import ALICE, BOB, World
from vitalsign.web.exports import ACCOUNT_COLUMNS, csv_text


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_accounts_csv_holds_every_row_the_filtered_list_has_in_its_order(
    world: World,
) -> None:
    params = {"band": "red", "sort": "arr", "desc": "true"}
    with world.client("maria") as maria:
        listed = maria.get("/api/v1/accounts", params={**params, "per_page": 500}).json()
        reply = maria.get("/api/v1/accounts.csv", params=params)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert f'filename="accounts-{world.latest}.csv"' in reply.headers["content-disposition"]
    rows = _rows(reply.text)
    assert list(rows[0]) == ACCOUNT_COLUMNS
    assert [r["account_id"] for r in rows] == [i["account_id"] for i in listed["items"]]
    assert len(rows) == listed["total"] > 0 and {r["band"] for r in rows} == {"red"}


def test_the_accounts_csv_is_not_cut_at_a_page(world: World) -> None:
    total = world.workspace.duckdb.execute(
        "SELECT count(*) FROM scores WHERE snapshot_date = ?", [world.latest]
    ).fetchone()[0]
    with world.login("vic") as viewer:  # the page's link: session cookie, page size 20
        page = viewer.get("/accounts").text
        assert 'id="export-csv"' in page
        rows = _rows(viewer.get("/accounts.csv").text)
    assert len(rows) == total > 20


def test_a_csm_exports_only_their_book_whatever_the_owner_asked(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    owned = con.execute("SELECT account_id FROM accounts WHERE owner = ?", [BOB]).fetchall()
    mine = {r[0] for r in owned}
    with world.client("bob") as bob:
        accounts = _rows(bob.get("/api/v1/accounts.csv").text)
        theirs = _rows(bob.get("/api/v1/accounts.csv", params={"owner": ALICE}).text)
        alerts = _rows(bob.get("/api/v1/alerts.csv", params={"status": "all"}).text)
        tasks = _rows(bob.get("/api/v1/tasks.csv", params={"status": "all"}).text)
        renewals = _rows(bob.get("/api/v1/renewals.csv", params={"within": 3650}).text)
    assert {r["account_id"] for r in accounts} <= mine and accounts
    assert theirs == []
    for rows in (alerts, tasks, renewals):
        assert {r["account_id"] for r in rows} <= mine


def test_alert_and_task_csvs_follow_the_inbox_filters(world: World) -> None:
    with world.client("maria") as maria:
        listed = maria.get(
            "/api/v1/alerts", params={"owner": ALICE, "status": "all", "per_page": 500}
        ).json()
        alerts = _rows(
            maria.get("/api/v1/alerts.csv", params={"owner": ALICE, "status": "all"}).text
        )
        tasks_listed = maria.get("/api/v1/tasks", params={"per_page": 500}).json()
        tasks = _rows(maria.get("/api/v1/tasks.csv").text)
    assert [r["alert_id"] for r in alerts] == [a["alert_id"] for a in listed["items"]]
    assert alerts and {r["owner"] for r in alerts} == {ALICE}
    assert [r["task_id"] for r in tasks] == [t["task_id"] for t in tasks_listed["items"]]


@pytest.mark.parametrize("path", ["/accounts.csv", "/alerts.csv", "/tasks.csv", "/renewals.csv"])
def test_a_stranger_gets_no_csv(world: World, path: str) -> None:
    with world.client() as stranger:
        assert stranger.get(f"/api/v1{path}").status_code == 401
        page = stranger.get(path)
    assert page.status_code == 303 and "/login" in page.headers["location"]


def test_text_a_spreadsheet_would_run_is_defused() -> None:
    text = csv_text(
        ["a", "b", "c", "d"], [{"a": "=HYPERLINK(1)", "b": -3.5, "c": ["x", "y"], "d": "@SUM"}]
    )
    assert _rows(text) == [{"a": "'=HYPERLINK(1)", "b": "-3.5", "c": "x; y", "d": "'@SUM"}]


def test_the_alerts_inbox_links_its_exports_with_the_filters_on_screen(world: World) -> None:
    with world.login("maria") as maria:
        page = maria.get("/alerts", params={"status": "all", "severity": "warning"}).text
        link = page.split('id="export-alerts-csv" href="')[1].split('"')[0]
        rows = _rows(maria.get(html.unescape(link)).text)
        assert 'id="export-tasks-csv"' in page
    assert link.startswith("/alerts.csv?") and "severity=warning" in link
    assert rows and {r["severity"] for r in rows} == {"warning"}


def test_a_csms_export_link_from_the_page_holds_only_their_book(world: World) -> None:
    with world.login("bob") as bob:
        rows = _rows(bob.get("/accounts.csv", params={"owner": ALICE}).text)
        mine = _rows(bob.get("/accounts.csv").text)
    assert rows == [] and mine and {r["owner"] for r in mine} == {BOB}
