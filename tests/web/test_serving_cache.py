"""The in-memory serving cache gives what DuckDB gives, and a new score run shows at once."""

from __future__ import annotations

import datetime as dt
import re
import time

import httpx
import pandas as pd

from conftest import ALICE, BOB, World
from vitalsign.engine.explain import explain_account
from vitalsign.engine.run import score
from vitalsign.engine.snapshots import read_items
from vitalsign.store.overrides import add_override
from vitalsign.web.account_view import account_view
from vitalsign.web.accounts import account_history, score_row
from vitalsign.web.serving_cache import build_serving_data


def _source(reply: httpx.Response) -> str:
    found = re.search(r'data;desc="(\w+)"', reply.headers["server-timing"])
    assert found, reply.headers["server-timing"]
    return found.group(1)


def _from_memory(browser: httpx.Client, path: str, seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        reply = browser.get(path)
        assert reply.status_code == 200, reply.text
        if _source(reply) == "memory" or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def test_the_serving_cache_holds_what_duckdb_holds(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    data = build_serving_data(con, "default")
    assert data.latest == world.latest
    accounts = [
        r[0]
        for r in con.execute(
            "SELECT account_id FROM scores WHERE snapshot_date = ? ORDER BY account_id LIMIT 5",
            [world.latest],
        ).fetchall()
    ]
    for account in accounts:
        assert data.history(account) == account_history(con, "default", account)
        assert data.latest_row(account) == score_row(con, "default", account, world.latest)
        pd.testing.assert_frame_equal(
            data.latest_items(account).drop(columns="snapshot_date"),
            read_items(con, "default", world.latest, account).drop(columns="snapshot_date"),
            check_dtype=False,
        )
        view = account_view(con, "default", account, serving=data)
        assert view.explanation == explain_account(con, "default", account)
    assert data.history("no-such-account") is None


def test_a_new_score_run_shows_on_the_account_page_at_once_then_from_memory(
    world: World,
) -> None:
    con = world.workspace.duckdb.cursor()
    account, band = con.execute(
        "SELECT account_id, band FROM scores WHERE snapshot_date = ? AND band IN "
        "('green', 'yellow') AND account_id IN (SELECT account_id FROM accounts "
        "WHERE owner NOT IN (?, ?, 'oscar@vendor.example')) ORDER BY account_id DESC LIMIT 1",
        [world.latest, ALICE, BOB],
    ).fetchone()
    path = f"/accounts/{account}"
    overridden = f'override · computed <span class="band band-{band}">{band}'
    with world.login("maria") as browser:
        before = _from_memory(browser, path)
        assert _source(before) == "memory"
        assert overridden not in before.text
        day = dt.datetime.combine(world.latest, dt.time()) - dt.timedelta(days=1)
        add_override(con, account, "band", "red", "cache test", "maria", created_at=day)
        score(world.workspace, world.latest, world.workspace.load_model())
        at_once = browser.get(path)
        assert _source(at_once) == "duckdb"  # the cache holds the previous version
        assert overridden in at_once.text
        later = _from_memory(browser, path)
        assert _source(later) == "memory"  # rebuilt for the new version
        assert overridden in later.text
