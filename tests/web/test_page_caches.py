"""What the account page keeps per version of the score history, or reads from memory, is what
DuckDB holds now: a re-score shows, and the in-memory answers equal the queries' answers."""

from __future__ import annotations

import time

from conftest import World
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.engine.run import score
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace
from vitalsign.web.account_view import _versions, account_view, current_version
from vitalsign.web.catalog import SnapshotCatalog
from vitalsign.web.expansion import account_expansion
from vitalsign.web.serving_cache import ServingCache, build_serving_data
from vitalsign.web.timeline import renewal_summary
from world import T


def test_the_gate_s_silent_inputs_follow_a_new_score_run_of_the_same_date(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    ensure_alert_tables(con)
    catalog = SnapshotCatalog()
    score(tiny_workspace, T, tiny_model)
    memo = catalog.at(con).memo
    before = account_view(con, tiny_model.name, "A", T, model=tiny_model, memo=memo)
    assert before.why is not None and before.why.gate is not None
    assert before.why.gate.missing is None
    con.execute("DELETE FROM invoices")
    score(tiny_workspace, T, tiny_model)  # same date, new freshness: a new history version
    memo = catalog.at(con).memo
    after = account_view(con, tiny_model.name, "A", T, model=tiny_model, memo=memo)
    assert after.why is not None and after.why.gate is not None
    assert after.why.gate.missing == "invoices_30d is missing (no data)"


def test_the_expansion_card_from_memory_equals_the_query_s(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    loaded = world.workspace.load_model()
    data = build_serving_data(con, loaded.name)
    assert data.expansion, "the world's latest snapshot holds expansion scores"
    accounts = [r[0] for r in con.execute("SELECT account_id FROM accounts").fetchall()]
    compared = 0
    for account in [*accounts, "no-such-account"]:
        cached = account_expansion(con, loaded, account, world.latest, data)
        assert cached == account_expansion(con, loaded, account, world.latest), account
        compared += cached is not None and cached["account"] is not None
    assert compared >= 5
    earlier = sorted(data.history(accounts[0]) or [], key=lambda h: h["snapshot_date"])
    if len(earlier) > 1:  # another date reads DuckDB, whatever the memory holds
        day = earlier[0]["snapshot_date"]
        assert account_expansion(con, loaded, accounts[0], day, data) == account_expansion(
            con, loaded, accounts[0], day
        )


def test_the_renewal_card_from_the_current_version_equals_the_accounts_row(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    accounts = [r[0] for r in con.execute("SELECT account_id FROM accounts").fetchall()]
    with_version = 0
    for account in accounts:
        current = current_version(_versions(con, account))
        with_version += current is not None
        assert renewal_summary(con, account, world.latest, current) == renewal_summary(
            con, account, world.latest
        ), account
    assert with_version == len(accounts)


def test_the_serving_cache_waits_its_gap_between_builds_and_never_serves_an_older_version(
    world: World,
) -> None:
    cache = ServingCache(world.workspace.duckdb.cursor, min_gap=0.6)
    loaded = world.workspace.load_model()
    cache.refresh(loaded.name)
    data = cache.wait()
    assert data is not None and cache.builds == 1
    assert cache.current(data.version, loaded.name) is data
    moved_on = (*data.version, "a later write")  # a version the cache has not built
    started = time.monotonic()
    assert cache.current(moved_on, loaded.name) is None  # the page reads DuckDB meanwhile
    time.sleep(0.2)
    assert cache.builds == 1  # within the gap: no build yet
    assert cache.current(moved_on, loaded.name) is None
    cache.wait()
    assert cache.builds == 2 and time.monotonic() - started >= 0.5
