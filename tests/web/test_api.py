"""The REST API over a real uvicorn server: data, paging, filtering, changes, error bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from conftest import World
from vitalsign.analytics.portfolio import portfolio_report
from vitalsign.engine.why import why_account
from vitalsign.errors import WriteConflictError
from vitalsign.web.error_handlers import vitalsign_status


def _error(reply: object) -> dict[str, str]:
    body = reply.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    error: dict[str, str] = body["error"]
    return error


def test_the_account_list_pages_filters_and_sorts(world: World) -> None:
    with world.client("root") as api:
        first = api.get("/api/v1/accounts", params={"per_page": 7, "sort": "score"}).json()
        second = api.get(
            "/api/v1/accounts", params={"per_page": 7, "sort": "score", "page": 2}
        ).json()
        reds = api.get("/api/v1/accounts", params={"band": "red", "per_page": 500}).json()
        mine = api.get("/api/v1/accounts", params={"owner": "bob@vendor.example"}).json()
        named = api.get("/api/v1/accounts", params={"q": world.bob_account[-4:]}).json()
    total = world.workspace.duckdb.execute(
        "SELECT count(*) FROM scores WHERE snapshot_date = ?", [world.latest]
    ).fetchone()[0]
    assert first["total"] == total and first["pages"] == -(-total // 7)
    scores = [r["score"] for r in first["items"] + second["items"] if r["score"] is not None]
    assert scores == sorted(scores)
    assert {r["account_id"] for r in first["items"]}.isdisjoint(
        {r["account_id"] for r in second["items"]}
    )
    assert reds["items"] and {r["band"] for r in reds["items"]} == {"red"}
    assert mine["total"] > 0 and {r["owner"] for r in mine["items"]} == {"bob@vendor.example"}
    assert world.bob_account in [r["account_id"] for r in named["items"]]


def test_scores_are_served_current_and_as_of_an_earlier_date(world: World) -> None:
    account = world.bob_account
    with world.client("maria") as api:
        now = api.get(f"/api/v1/accounts/{account}/score").json()
        then = api.get(
            f"/api/v1/accounts/{account}/score", params={"as_of": world.previous.isoformat()}
        ).json()
        listing = api.get("/api/v1/scores", params={"as_of": world.previous.isoformat()}).json()
    assert now["snapshot_date"].startswith(world.latest.isoformat())
    assert then["snapshot_date"].startswith(world.previous.isoformat())
    assert listing["as_of"] == world.previous.isoformat()
    assert now["model_hash"] == world.model_hashes[1]
    assert then["model_hash"] == world.model_hashes[0]


def test_the_history_carries_each_snapshot_model_hash(world: World) -> None:
    with world.client("root") as api:
        history = api.get(f"/api/v1/accounts/{world.alice_account}/history").json()["items"]
        recent = api.get(
            f"/api/v1/accounts/{world.alice_account}/history",
            params={"from": world.previous.isoformat()},
        ).json()["items"]
    assert [h["snapshot_date"] for h in history] == sorted(h["snapshot_date"] for h in history)
    assert {h["model_hash"] for h in history} == set(world.model_hashes)
    assert len(recent) == 2


def test_explain_is_the_library_explanation(world: World) -> None:
    account = world.alice_account
    with world.client("root") as api:
        reply = api.get(
            f"/api/v1/accounts/{account}/explain", params={"since": world.previous.isoformat()}
        ).json()
    model = world.workspace.load_model()
    expected = why_account(world.workspace.duckdb.cursor(), model, account, None, world.previous)
    assert reply == json.loads(json.dumps(expected.to_dict(), default=str))


def test_the_portfolio_summary_matches_the_portfolio_report(world: World) -> None:
    with world.client("vic") as api:
        reply = api.get("/api/v1/portfolio").json()
        trend = api.get("/api/v1/portfolio/trend").json()["items"]
    report = portfolio_report(world.workspace.duckdb.cursor(), world.workspace.load_model().spec)
    assert reply["headline"] == report.headline
    assert reply["accounts"] == report.total_accounts
    expected = report.to_dict()["bands"]
    assert [b["band"] for b in reply["bands"]] == [b["band"] for b in expected]
    for got, want in zip(reply["bands"], expected, strict=True):
        assert got == {k: pytest.approx(v) if isinstance(v, float) else v for k, v in want.items()}
    dates = {t["snapshot_date"] for t in trend}
    assert world.latest.isoformat() in dates and len(dates) == 8


def test_an_override_is_recorded_audited_and_listed(world: World) -> None:
    account = world.workspace.duckdb.execute(
        "SELECT account_id FROM accounts WHERE owner = 'carol@vendor.example' "
        "ORDER BY account_id LIMIT 1"
    ).fetchone()[0]
    with world.client("maria") as api:
        made = api.post(
            f"/api/v1/accounts/{account}/overrides",
            json={
                "target": "band",
                "value": "yellow",
                "reason": "QBR went well",
                "expires_on": "2099-01-01",
            },
        )
        assert made.status_code == 201, made.text
        listed = api.get(f"/api/v1/accounts/{account}/overrides").json()["items"]
        audit = api.get(f"/api/v1/accounts/{account}/audit").json()["items"]
        wrong = api.post(
            f"/api/v1/accounts/{account}/overrides",
            json={"target": "band", "value": "purple", "reason": "?"},
        )
        revoked = api.post(
            f"/api/v1/accounts/{account}/overrides/{made.json()['override_id']}/revoke",
            json={"reason": "renewal fell through"},
        )
    assert [(o["value"], o["author"], o["state"]) for o in listed] == [
        ("yellow", "maria", "active")
    ]
    assert {(a["actor"], a["action"]) for a in audit[:2]} == {  # recorded, then re-scored
        ("maria", "override.add"),
        ("maria", "override.rescore"),
    }
    assert wrong.status_code == 400 and "purple" in _error(wrong)["message"]
    assert revoked.status_code == 200


def test_a_write_that_meets_the_daily_job_mid_transaction_is_a_409_and_saves_nothing(
    world: World,
) -> None:
    with world.client("bob") as api:
        listed = api.get("/api/v1/alerts", params={"per_page": 500}).json()
        alert_id = listed["items"][-1]["alert_id"]
        world.workspace.duckdb.execute(  # open again, whatever other tests did to bob's alerts
            "UPDATE alerts SET status = 'open', acknowledged_at = NULL, acknowledged_by = NULL "
            "WHERE alert_id = ?",
            [alert_id],
        )
        audited_before = _audited(world, alert_id)
        job = world.workspace.duckdb.cursor()  # the scheduled job, resolving that alert
        job.execute("BEGIN TRANSACTION")
        job.execute("UPDATE alerts SET status = 'resolved' WHERE alert_id = ?", [alert_id])
        try:
            clash = api.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "mine"})
        finally:
            job.execute("ROLLBACK")
        after = api.get(f"/api/v1/alerts/{alert_id}").json()
    assert clash.status_code == 409 and _error(clash)["code"] == "conflict"
    assert "nothing was saved: reload and try again" in _error(clash)["message"]
    assert after["status"] == "open" and after["acknowledged_by"] is None
    assert _audited(world, alert_id) == audited_before


def _audited(world: World, subject: str) -> int:
    found = world.workspace.duckdb.execute(
        "SELECT count(*) FROM audit_log WHERE subject = ?", [subject]
    ).fetchone()
    assert found is not None
    return int(found[0])


def test_alerts_are_listed_acknowledged_and_rated(world: World) -> None:
    with world.client("alice") as api:
        active = api.get("/api/v1/alerts", params={"per_page": 500}).json()
        alert = next(a for a in active["items"] if a["status"] == "open")
        acked = api.post(f"/api/v1/alerts/{alert['alert_id']}/acknowledge", json={"note": "on it"})
        rated = api.post(f"/api/v1/alerts/{alert['alert_id']}/feedback", json={"useful": False})
        twice = api.post(f"/api/v1/alerts/{alert['alert_id']}/acknowledge")
    assert active["total"] == len(active["items"]) > 0
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "alice"
    assert rated.json()["useful"] is False and rated.json()["feedback_by"] == "alice"
    assert twice.status_code == 400 and "only an open alert" in _error(twice)["message"]
    actions = world.workspace.duckdb.execute(
        "SELECT actor, action FROM audit_log WHERE subject = ? ORDER BY logged_at",
        [alert["alert_id"]],
    ).fetchall()
    assert actions == [("alice", "alert.acknowledge"), ("alice", "alert.feedback")]


def test_alerts_and_tasks_filter_by_account_under_either_name(world: World) -> None:
    with world.client("root") as api:
        every = api.get("/api/v1/alerts", params={"status": "all", "per_page": 500}).json()
        account = every["items"][0]["account_id"]
        by_id = api.get("/api/v1/alerts", params={"status": "all", "account_id": account}).json()
        by_alias = api.get("/api/v1/alerts", params={"status": "all", "account": account}).json()
        tasks = api.get("/api/v1/tasks", params={"status": "all", "account": account}).json()
        clash = api.get("/api/v1/alerts", params={"account_id": account, "account": "x"})
        exported = api.get("/api/v1/alerts.csv", params={"status": "all", "account": account})
    assert every["total"] > by_alias["total"] > 0  # the alias filters (it was ignored)
    assert by_alias == by_id
    assert all(t["account_id"] == account for t in tasks["items"])
    assert clash.status_code == 400 and "disagree" in _error(clash)["message"]
    assert exported.text.count(account) == by_alias["total"]  # the /alerts page's export link


def test_a_query_parameter_a_route_does_not_take_is_refused_naming_it(world: World) -> None:
    with world.client("root") as api:
        typo = api.get("/api/v1/alerts", params={"acount_id": "a1", "status": "all"})
        accounts = api.get("/api/v1/accounts", params={"bnad": "red", "page": 1})
        fine = api.get("/api/v1/accounts", params={"band": "red", "page": 1})
        export = api.get("/api/v1/accounts.csv", params={"band": "red", "page": 2})  # as linked
    assert typo.status_code == 400 and _error(typo)["code"] == "bad_request"
    message = _error(typo)["message"]
    assert (
        "acount_id (did you mean account_id?)" in message and "status" not in message.split(";")[0]
    )
    assert accounts.status_code == 400 and "bnad" in _error(accounts)["message"]
    assert fine.status_code == 200 and export.status_code == 200


def test_tasks_are_listed_and_updated(world: World) -> None:
    with world.client("bob") as api:
        tasks = api.get("/api/v1/tasks").json()
        task = tasks["items"][0]
        moved = api.patch(f"/api/v1/tasks/{task['task_id']}", json={"status": "in_progress"})
        bad = api.patch(f"/api/v1/tasks/{task['task_id']}", json={"status": "sleeping"})
    assert tasks["total"] >= 1
    assert moved.status_code == 200 and moved.json()["status"] == "in_progress"
    assert bad.status_code == 422 and _error(bad)["code"] == "invalid_request"


def test_a_viewer_reads_everything_and_changes_nothing(world: World) -> None:
    with world.client("vic") as api:
        assert api.get(f"/api/v1/accounts/{world.alice_account}").status_code == 200
        refused = api.post(
            f"/api/v1/accounts/{world.alice_account}/overrides",
            json={"target": "band", "value": "green", "reason": "why not"},
        )
    assert refused.status_code == 403 and _error(refused)["code"] == "forbidden"


def test_errors_have_one_body_shape(world: World) -> None:
    with world.client("root") as api:
        unknown = api.get("/api/v1/accounts/acct-nope/history")
        bad_date = api.get("/api/v1/accounts", params={"as_of": "2001-01-01"})
        bad_param = api.get("/api/v1/accounts", params={"per_page": 0})
        bad_sort = api.get("/api/v1/accounts", params={"sort": "vibes"})
        no_route = api.get("/api/v1/nothing-here")
    with world.client() as anonymous:
        unauthenticated = anonymous.get("/api/v1/accounts")
    assert (unknown.status_code, _error(unknown)["code"]) == (404, "not_found")
    assert bad_date.status_code == 404 and "no snapshot" in _error(bad_date)["message"]
    assert (bad_param.status_code, _error(bad_param)["code"]) == (422, "invalid_request")
    assert bad_sort.status_code == 400
    assert "vibes" in _error(bad_sort)["message"]
    assert (no_route.status_code, _error(no_route)["code"]) == (404, "not_found")
    assert unauthenticated.status_code == 401
    assert _error(unauthenticated)["code"] == "unauthenticated"


def test_the_openapi_document_describes_every_api_route(world: World) -> None:
    with world.client() as anonymous:
        document = anonymous.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}/explain",
        "/api/v1/portfolio",
        "/api/v1/alerts/{alert_id}/acknowledge",
        "/api/v1/tasks/{task_id}",
    ):
        assert path in paths
    assert not any(p in paths for p in ("/login", "/accounts/{account_id}"))
    assert "ErrorBody" in document["components"]["schemas"]


def test_a_write_conflict_that_outlasted_its_retries_maps_to_409() -> None:
    error = WriteConflictError("alerts: another writer kept changing the same rows")
    assert vitalsign_status(error) == (409, "conflict")


DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_KEYS = ("_date", "as_of", "latest", "since", "previous", "day")  # keys that hold a date


def _date_fields(value: object, where: str = "") -> Iterator[tuple[str, object]]:
    """Every (path, value) in a JSON answer whose key names a date."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.endswith(DAY_KEYS) and not isinstance(inner, dict | list):
                yield f"{where}.{key}", inner
            yield from _date_fields(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _date_fields(inner, f"{where}[{index}]")


def test_every_date_an_api_route_answers_is_a_day_without_a_time(world: World) -> None:
    with world.client("root") as api:
        paths = api.get("/api/v1/openapi.json").json()["paths"]
        account = api.get("/api/v1/accounts").json()["items"][0]["account_id"]
        answers = {}
        for path, operations in paths.items():
            if "get" not in operations or "openapi" in path:
                continue
            reply = api.get(path.replace("{account_id}", account))
            if reply.status_code == 200 and "json" in reply.headers["content-type"]:
                answers[path] = reply.json()
    assert "/api/v1/portfolio/trend" in answers and len(answers) > 10
    found = [(p, f, v) for p, a in answers.items() for f, v in _date_fields(a) if v is not None]
    assert any(p == "/api/v1/portfolio/trend" for p, _, _ in found)
    wrong = [(p, f, v) for p, f, v in found if not (isinstance(v, str) and DAY.match(v))]
    assert not wrong, wrong[:5]
