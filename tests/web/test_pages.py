"""The pages over a real server: what each shows, for each role."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time

from conftest import ALICE, BOB, World
from vitalsign.engine.run import score
from vitalsign.store.overrides import add_override


def _figure(page: str, name: str) -> dict[str, object]:
    found = re.search(
        rf'<script type="application/json" id="figure-{name}">(.*?)</script>', page, re.S
    )
    assert found, f"the page has the {name} chart"
    figure: dict[str, object] = json.loads(found.group(1))
    return figure


def test_the_portfolio_page_shows_bands_trend_breakdowns_and_movers(world: World) -> None:
    with world.login("maria") as browser:
        page = browser.get("/").text
    assert "ARR at risk" in page and "By segment" in page and "By owner" in page
    assert f"Biggest movers since {world.previous}" in page
    assert len(_figure(page, "trend")["data"]) >= 2  # type: ignore[arg-type]
    assert ALICE in page and BOB in page


def test_a_csms_portfolio_page_shows_only_their_book(world: World) -> None:
    with world.login("alice") as browser:
        page = browser.get("/").text
    assert "your book" in page and ALICE in page and BOB not in page


def test_the_account_list_pages_through_every_account(world: World) -> None:
    total = world.workspace.duckdb.execute(
        "SELECT count(*) FROM scores WHERE snapshot_date = ?", [world.latest]
    ).fetchone()[0]
    seen: list[str] = []
    with world.login("vic") as browser:
        page = 1
        while True:
            text = browser.get("/accounts", params={"page": page, "sort": "name"}).text
            seen += re.findall(r'<tr data-account="([^"]+)"', text)
            if 'rel="next"' not in text:
                break
            page += 1
    assert len(seen) == len(set(seen)) == total


def test_the_account_page_shows_the_model_change_and_an_override_beside_the_computed_band(
    world: World,
) -> None:
    con = world.workspace.duckdb.cursor()
    account, band = con.execute(
        "SELECT account_id, band FROM scores WHERE snapshot_date = ? "
        "AND account_id IN (SELECT account_id FROM accounts WHERE owner = 'oscar@vendor.example') "
        "AND band IN ('green', 'yellow') ORDER BY account_id LIMIT 1",
        [world.latest],
    ).fetchone()
    before = dt.datetime.combine(world.latest, dt.time()) - dt.timedelta(days=1)
    add_override(con, account, "band", "red", "exec sponsor gone", "maria", created_at=before)
    score(world.workspace, world.latest, world.workspace.load_model())
    with world.login("maria") as browser:
        page = browser.get(f"/accounts/{account}").text
    history = _figure(page, "history")
    marks = [a["text"] for a in history["layout"]["annotations"]]  # type: ignore[index]
    assert marks == [f"model {world.model_hashes[1][:8]}"]
    assert re.search(rf"override · computed <span class=\"band band-{band}\">{band}", page)
    assert "exec sponsor gone" in page and "override.add" in page


def test_the_model_page_shows_the_file_and_every_model_in_the_history(world: World) -> None:
    with world.login("vic") as browser:
        page = browser.get("/model").text
        api = browser.get("/api/v1/model").json()
    assert "min_coverage: 0.45" in page
    for model_hash in world.model_hashes:
        assert model_hash in page
    assert [m["model_hash"] for m in api["history"]] == world.model_hashes
    assert "No backtest yet" in page or api["backtest"] is not None


def test_the_alerts_inbox_lists_a_csms_alerts_only(world: World) -> None:
    with world.login("bob") as browser:
        page = browser.get("/alerts", params={"status": "all"}).text
    owners = set(re.findall(r'<span class="muted">([a-z]+@vendor\.example)</span>', page))
    assert owners == {BOB}


def test_plotly_js_comes_from_the_installed_package_and_is_cached(world: World) -> None:
    with world.login("vic") as browser:
        page = browser.get("/").text
        src = re.search(r'<script src="([^"]*plotly[^"]*)"', page)
        assert src is not None
        script = browser.get(src.group(1), headers={"Accept-Encoding": "gzip"})
        again = browser.get(src.group(1), headers={"If-None-Match": script.headers["etag"]})
    assert script.status_code == 200 and "plotly" in script.text[:2000].lower()
    assert "immutable" in script.headers["cache-control"]
    assert script.headers["content-encoding"] == "gzip"
    assert again.status_code == 304
    assert "cdn" not in page.lower()


def test_a_manager_runs_a_backtest_from_the_model_page(world: World) -> None:
    with world.login("maria") as browser:
        page = browser.get("/model").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None and "Run a backtest" in page
        started = browser.post("/model/backtest", data={"csrf_token": token.group(1)})
        assert started.status_code == 303
        deadline = time.monotonic() + 90
        while True:
            backtest = browser.get("/api/v1/model").json()["backtest"]
            if backtest["state"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        page = browser.get("/model").text
    assert backtest["state"] in ("done", "failed"), backtest
    if backtest["state"] == "done":
        assert "ROC-AUC" in page and backtest["roc_auc"] in page
    else:
        assert "The last backtest failed" in page
        assert html.escape(backtest["error"].split("(")[0]) in page


def test_a_csm_cannot_start_a_backtest(world: World) -> None:
    with world.login("bob") as browser:
        page = browser.get("/model").text
        assert "Run a backtest" not in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        refused = browser.post("/model/backtest", data={"csrf_token": token.group(1)})
    assert refused.status_code == 403
