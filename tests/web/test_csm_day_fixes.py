"""Fixes from the new-user trial of the CSM's day: the account page's forms return to it."""

from __future__ import annotations

import csv
import io
import re

import httpx

from conftest import PASSWORD, ServedApp, World
from vitalsign.web import WebSettings, create_app


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page must carry a CSRF token"
    return found.group(1)


def _account_with_open_alert(world: World) -> tuple[str, str]:
    row = world.workspace.duckdb.execute(
        "SELECT account_id, alert_id FROM alerts WHERE status = 'open' "
        "ORDER BY account_id DESC, alert_id LIMIT 1"
    ).fetchone()
    assert row is not None, "the world has open alerts"
    return str(row[0]), str(row[1])


def test_the_account_pages_forms_return_to_the_account_under_a_base_url(world: World) -> None:
    app = create_app(world.workspace, WebSettings(base_url="http://127.0.0.1:8791"))
    account, alert = _account_with_open_alert(world)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=30) as browser:
        browser.get("/login")
        token = browser.cookies["vitalsign_login_csrf"]
        signed = browser.post(
            "/login", data={"username": "root", "password": PASSWORD, "csrf_token": token}
        )
        assert signed.status_code == 303
        page = browser.get(f"/accounts/{account}").text
        nexts = set(re.findall(r'name="next" value="([^"]*)"', page))
        assert nexts == {f"/accounts/{account}"}, nexts
        acked = browser.post(
            f"/alerts/{alert}/acknowledge",
            data={"next": f"/accounts/{account}", "csrf_token": _csrf(page)},
        )
        foreign = browser.post(
            f"/alerts/{alert}/feedback",
            data={
                "useful": "yes",
                "next": "http://evil.example/accounts",
                "csrf_token": _csrf(page),
            },
        )
    assert acked.status_code == 303
    assert acked.headers["location"] == f"/accounts/{account}?notice=acknowledged"
    assert foreign.status_code == 303, foreign.text[:300]
    assert foreign.headers["location"].startswith("/alerts")


def test_closing_a_task_without_an_outcome_is_refused_naming_the_field(world: World) -> None:
    with world.client("root") as api:
        made = api.post(f"/api/v1/accounts/{world.bob_account}/tasks", json={"title": "Call"})
        task = made.json()["task_id"]
        bare = api.patch(f"/api/v1/tasks/{task}", json={"status": "closed"})
        blank = api.patch(f"/api/v1/tasks/{task}", json={"status": "closed", "outcome": "  "})
        still = api.get(f"/api/v1/tasks/{task}").json()
        closed = api.patch(f"/api/v1/tasks/{task}", json={"status": "closed", "outcome": "done"})
    assert bare.status_code == 422 and blank.status_code == 422
    assert bare.json()["error"]["message"].startswith("outcome:")
    assert still["status"] == "open" and still["outcome"] is None
    assert closed.status_code == 200 and closed.json()["outcome"] == "done"


def test_the_close_form_without_an_outcome_is_refused(world: World) -> None:
    with world.client("root") as api:
        task = api.post(
            f"/api/v1/accounts/{world.bob_account}/tasks", json={"title": "Call again"}
        ).json()["task_id"]
    with world.login("root") as browser:
        page = browser.get(f"/accounts/{world.bob_account}").text
        reply = browser.post(
            f"/tasks/{task}", data={"status": "closed", "outcome": " ", "csrf_token": _csrf(page)}
        )
    assert reply.status_code == 422
    assert "outcome" in reply.text
    status = world.workspace.duckdb.execute(
        "SELECT status FROM tasks WHERE task_id = ?", [task]
    ).fetchone()
    assert status is not None and status[0] == "open"


def test_an_override_without_expiry_shows_no_nat(world: World) -> None:
    account = world.bob_account
    with world.client("root") as api:
        made = api.post(
            f"/api/v1/accounts/{account}/overrides",
            json={"target": "band", "value": "yellow", "reason": "trial: no expiry"},
        )
        assert made.status_code in (200, 201), made.text
        items = api.get(f"/api/v1/accounts/{account}/overrides").json()["items"]
        with world.login("root") as browser:
            page = browser.get(f"/accounts/{account}").text
        revoked = api.post(
            f"/api/v1/accounts/{account}/overrides/{made.json()['override_id']}/revoke",
            json={"reason": "trial over"},
        )
    mine = [i for i in items if i["override_id"] == made.json()["override_id"]]
    assert len(mine) == 1
    assert mine[0]["expires_at"] is None and mine[0]["revoked_at"] is None
    assert "NaT" not in page and "NaT" not in str(items)
    assert revoked.status_code == 200, revoked.text


def test_bulk_acknowledge_says_how_many_alerts(world: World) -> None:
    rows = world.workspace.duckdb.execute(
        "SELECT alert_id FROM alerts WHERE status = 'open' AND account_id NOT IN (?, ?) "
        "ORDER BY alert_id DESC LIMIT 3",
        [world.alice_account, world.bob_account],  # other tests use theirs
    ).fetchall()
    alerts = [str(r[0]) for r in rows]
    assert len(alerts) == 3, "the world has open alerts"
    with world.login("root") as browser:
        page = browser.get("/alerts").text
        reply = browser.post(
            "/alerts/acknowledge",
            data={"alert_ids": alerts, "next": "/alerts", "csrf_token": _csrf(page)},
        )
        shown = browser.get(reply.headers["location"]).text
        again = browser.post(
            "/alerts/acknowledge",
            data={"alert_ids": alerts, "next": "/alerts", "csrf_token": _csrf(page)},
        )
        none = browser.get(again.headers["location"]).text
    assert reply.status_code == 303
    assert '<p class="flash">3 alerts acknowledged.</p>' in shown
    assert "Alert acknowledged." not in shown
    assert "No alert acknowledged" in none


def test_the_audit_trail_reads_as_lines_without_none(world: World) -> None:
    account = world.bob_account
    with world.client("root") as api:
        made = api.post(f"/api/v1/accounts/{account}/tasks", json={"title": "Audit me"})
        assert made.status_code == 201
    with world.login("root") as browser:
        page = browser.get(f"/accounts/{account}").text
    audit = page.split('id="audit"', 1)[1].split("</table>", 1)[0]
    assert "title: Audit me" in audit
    assert "None" not in audit and "{" not in audit and "NaT" not in audit


def test_the_contacts_card_links_to_all_contacts_not_an_api_path(world: World) -> None:
    row = world.workspace.duckdb.execute(
        "SELECT account_id, count(*) FROM users GROUP BY 1 HAVING count(*) > 10 "
        "ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    assert row is not None, "some demo account has more than ten contacts"
    account, contacts = row
    with world.login("root") as browser:
        page = browser.get(f"/accounts/{account}/timeline").text
        found = re.search(r'id="contacts-all" href="([^"]+)"', page)
        assert found is not None
        everyone = browser.get(found.group(1).replace("&amp;", "&")).text
    assert "GET /api/v1" not in page
    card = everyone.split('id="contacts"', 1)[1].split("</section>", 1)[0]
    assert card.count("<tr data-user=") == contacts


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _decimals(cell: str) -> int:
    return len(cell.split(".", 1)[1]) if "." in cell else 0


def test_csv_exports_round_scores_and_carry_arr_and_the_alert(world: World) -> None:
    with world.client("maria") as api:
        accounts = _csv(api.get("/api/v1/accounts.csv").text)
        renewals = _csv(api.get("/api/v1/renewals.csv", params={"within": 3650}).text)
        alerts = _csv(api.get("/api/v1/alerts.csv", params={"status": "all"}).text)
        tasks = _csv(api.get("/api/v1/tasks.csv", params={"status": "all"}).text)
    assert accounts and renewals and alerts and tasks
    for row in accounts + renewals:
        assert _decimals(row["score"]) <= 1, row["score"]
    assert all(_decimals(r["previous_score"]) <= 1 for r in accounts)
    arr = dict(world.workspace.duckdb.execute("SELECT account_id, arr FROM accounts").fetchall())
    for row in alerts:
        want = arr[row["account_id"]]
        assert (row["arr"] == "") if want is None else float(row["arr"]) == float(want)
    from_rules = [r for r in tasks if r["alert_id"]]
    assert from_rules, "the world's rule opened tasks from alerts"
    summaries = dict(
        world.workspace.duckdb.execute("SELECT alert_id, summary FROM alerts").fetchall()
    )
    assert all(r["alert_rule"] == "low_score" for r in from_rules)
    assert all(r["alert_summary"] == summaries[r["alert_id"]] for r in from_rules)
