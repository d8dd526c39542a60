"""A PostgreSQL source: a table or a query, read incrementally by a watermark column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from ingest_support import add_account, count

from vitalsign.errors import IngestError
from vitalsign.ingest.database import load_database, read_watermark
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.sync import load_options, sync_workspace
from vitalsign.store.workspace import DatabaseSource, Workspace, open_workspace


@pytest.fixture
def billing(postgres_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh schema with an invoices table in the test server; returns its qualified name."""
    schema = "s_" + request.node.name[-40:].lower().replace("[", "_").replace("]", "_")
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        pg.execute(f"CREATE SCHEMA {schema}")
        pg.execute(
            f"CREATE TABLE {schema}.invoices (id text PRIMARY KEY, customer text, "
            "issued timestamptz, total numeric(12, 2), updated_at timestamp)"
        )
        pg.execute(
            f"INSERT INTO {schema}.invoices VALUES "
            "('in1', 'a1', '2024-01-01 10:00+00', 100.50, '2024-01-01 10:00'), "
            "('in2', 'a1', '2024-01-02 10:00+02', 20, '2024-01-02 10:00'), "
            "('in3', 'ghost', '2024-01-03 10:00+00', 5, '2024-01-03 10:00'), "
            "('in4', 'a1', '2024-01-04 10:00+00', NULL, '2024-01-04 10:00')"
        )
    return f"{schema}.invoices"


MAPPING = Mapping.model_validate(
    {
        "columns": {
            "invoice_id": "id",
            "account_id": "customer",
            "issued_at": "issued",
            "amount": "total",
        }
    }
)


def _source(url: str, table: str, **extra: str) -> DatabaseSource:
    return DatabaseSource.model_validate(
        {"name": "billing", "into": "invoices", "url": url, "table": table, **extra}
    )


def test_a_table_is_read_incrementally_by_its_watermark(
    workspace: Workspace, postgres_url: str, billing: str
) -> None:
    add_account(workspace, "a1")
    source = _source(postgres_url, billing, watermark="updated_at")
    first = load_database(workspace, source, MAPPING, "invoices")
    assert (first.read, first.loaded, first.quarantined) == (4, 2, 2) and first.balanced
    issued = workspace.duckdb.execute(
        "SELECT issued_at, amount FROM invoices WHERE invoice_id = 'in2'"
    ).fetchone()
    assert (str(issued[0]), issued[1]) == ("2024-01-02 08:00:00", 20.0)
    assert read_watermark(workspace.duckdb, "billing") == "2024-01-04 10:00:00"
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute(
            f"INSERT INTO {billing} VALUES ('in5', 'a1', '2024-01-05 10:00+00', 7, "
            "'2024-01-05 10:00')"
        )
    second = load_database(workspace, source, MAPPING, "invoices")
    # the boundary row (same watermark) comes again as a duplicate of what was quarantined
    assert (second.read, second.loaded) == (2, 1) and second.balanced
    assert count(workspace, "SELECT count(*) FROM invoices") == 3
    assert count(workspace, "SELECT count(*) FROM quarantine") == 2


def test_a_query_source_and_a_broken_one_sync_side_by_side(
    tmp_path: Path, postgres_url: str, billing: str
) -> None:
    from vitalsign.store.workspace import init_workspace

    root = tmp_path / "ws"
    ws = init_workspace(root)
    add_account(ws, "a1")
    ws.close()
    (root / "vitalsign.yml").write_text(
        (root / "vitalsign.yml").read_text()
        + f"""sources:
  - name: broken
    kind: database
    into: invoices
    url: postgresql://postgres@127.0.0.1:1/none
    table: nothing
  - name: billing
    kind: database
    into: invoices
    url_env: VS_TEST_BILLING_URL
    query: "SELECT id, customer, issued, total FROM {billing} WHERE total > 10"
    columns: {{invoice_id: id, account_id: customer, issued_at: issued, amount: total}}
"""
    )
    import os

    os.environ["VS_TEST_BILLING_URL"] = postgres_url
    try:
        report = sync_workspace(open_workspace(root), show_progress=False)
    finally:
        del os.environ["VS_TEST_BILLING_URL"]
    results = {r.source: r for r in report.results}
    assert not report.ok and results["broken"].error
    assert results["billing"].ok and (results["billing"].read, results["billing"].loaded) == (2, 2)


@pytest.fixture
def crm(postgres_url: str) -> str:
    """A CRM companies table in the test server; returns its qualified name."""
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute("DROP SCHEMA IF EXISTS crm CASCADE")
        pg.execute("CREATE SCHEMA crm")
        pg.execute(
            "CREATE TABLE crm.companies (id text PRIMARY KEY, name text, since date, "
            "owner text, segment text, arr numeric(12, 2), renewal date, modified timestamp)"
        )
        pg.execute(
            "INSERT INTO crm.companies SELECT 'c' || i, 'Company ' || i, '2023-01-01', "
            "'ann@x.test', 'smb', 1000 + i, '2025-01-01', '2024-01-01' "
            "FROM generate_series(1, 10) i"
        )
    return "crm.companies"


CRM_COLUMNS = {
    "account_id": "id",
    "created_at": "since",
    "renewal_date": "renewal",
    "updated_at": "modified",
}
CRM_MAPPING = Mapping.model_validate({"columns": CRM_COLUMNS})


def test_a_crm_table_that_changes_updates_accounts_and_keeps_their_history(
    workspace: Workspace, postgres_url: str, crm: str
) -> None:
    source = DatabaseSource.model_validate(
        {
            "name": "crm",
            "into": "accounts",
            "url": postgres_url,
            "table": crm,
            "mode": "snapshot",
            "columns": CRM_COLUMNS,
        }
    )
    first = load_database(workspace, source, CRM_MAPPING, "accounts", load_options(source))
    assert (first.read, first.inserted, first.updated, first.unchanged) == (10, 10, 0, 0)
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute(
            f"UPDATE {crm} SET owner = 'bob@x.test', segment = 'enterprise', arr = 50000, "
            "renewal = '2026-01-01', modified = '2024-06-01' WHERE id = 'c1'"
        )
        pg.execute(f"DELETE FROM {crm} WHERE id = 'c10'")
    second = load_database(workspace, source, CRM_MAPPING, "accounts", load_options(source))
    assert (second.read, second.updated, second.unchanged, second.deleted) == (9, 1, 8, 1)
    assert second.balanced
    history = workspace.duckdb.execute(
        "SELECT owner, segment, arr, CAST(valid_from AS VARCHAR) FROM account_history "
        "WHERE account_id = 'c1' ORDER BY valid_from NULLS FIRST"
    ).fetchall()
    assert history == [
        ("ann@x.test", "smb", 1001.0, None),
        ("bob@x.test", "enterprise", 50000.0, "2024-06-01 00:00:00"),
    ]
    gone = workspace.duckdb.execute(
        "SELECT deleted_at IS NOT NULL FROM accounts WHERE account_id = 'c10'"
    ).fetchone()
    assert gone == (True,)
    with psycopg.connect(postgres_url, autocommit=True) as pg:  # 6 of 9 vanish at once
        pg.execute(f"DELETE FROM {crm} WHERE id IN ('c2', 'c3', 'c4', 'c5', 'c6', 'c7')")
    report = sync_workspace(_with_sources(workspace, source), show_progress=False)
    assert not report.ok and "more than the 20% allowed" in str(report.results[0].error)
    assert count(workspace, "SELECT count(*) FROM accounts WHERE deleted_at IS NULL") == 9


def _with_sources(workspace: Workspace, *sources: DatabaseSource) -> Workspace:
    config = workspace.config.model_copy(update={"sources": list(sources)})
    return Workspace(root=workspace.root, config=config, _backend=workspace.backend)


@pytest.fixture
def many_events(postgres_url: str) -> str:
    """An events table of 1,000 rows (a bad time every 100th, one id repeated)."""
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute("DROP SCHEMA IF EXISTS product CASCADE")
        pg.execute("CREATE SCHEMA product")
        pg.execute(
            "CREATE TABLE product.events AS SELECT i AS n, CASE WHEN i = 999 THEN 'e1' "
            "ELSE 'e' || i END AS id, 'a' || (i % 3) AS account, CASE WHEN i % 100 = 50 "
            "THEN 'not a time' ELSE ('2024-01-01'::timestamp + i * interval '1 minute')::text "
            "END AS at, CASE WHEN i % 7 = 0 THEN 'say \"hi\", then\nleave' ELSE 'login' END "
            "AS kind FROM generate_series(1, 1000) i"
        )
    return "product.events"


EVENTS_MAPPING = Mapping.model_validate(
    {"columns": {"event_id": "id", "account_id": "account", "timestamp": "at", "event": "kind"}}
)


def _events_state(ws: Workspace) -> tuple[list[Any], list[Any]]:
    rows = ws.duckdb.execute("SELECT * FROM events ORDER BY event_id").fetchall()
    bad = ws.duckdb.execute("SELECT line, raw, reason FROM quarantine ORDER BY line").fetchall()
    return rows, bad


def test_a_load_of_many_batches_equals_one_batch_and_keeps_one_batch_on_disk(
    tmp_path: Path, postgres_url: str, many_events: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitalsign.ingest import database_batches as database
    from vitalsign.store.workspace import init_workspace

    source = DatabaseSource.model_validate(
        {"name": "product", "into": "events", "url": postgres_url, "table": many_events}
    )
    reader = database._reader
    seen: list[int] = []

    def counting(path: Path, names: list[str]) -> str:
        seen.append(path.read_bytes().count(b"\n") - path.read_bytes().count(b"\nleave"))
        files = list(path.parent.glob("vitalsign-db-*"))
        assert len(files) <= 2  # the batch being loaded and the one being read
        return reader(path, names)

    monkeypatch.setattr(database, "_reader", counting)
    results = []
    for batch_rows in (1_000_000, 64):
        ws = init_workspace(tmp_path / f"ws-{batch_rows}")
        for account in ("a0", "a1", "a2"):
            add_account(ws, account)
        seen.clear()
        report = load_database(ws, source, EVENTS_MAPPING, "events", batch_rows=batch_rows)
        results.append((report.read, report.loaded, report.quarantined, report.unchanged))
        results.append(_events_state(ws))
        ws.close()
        assert sum(seen) == 1000 and max(seen) <= batch_rows
        assert len(seen) == (1 if batch_rows > 1000 else 16)
    assert results[0] == results[2] == (1000, 989, 10, 1)
    assert results[1] == results[3]
    lines = [line for line, _, _ in results[3][1]]
    assert lines == list(range(50, 1000, 100))  # a quarantined row's line is its row number


def test_a_load_that_fails_in_a_later_batch_leaves_nothing(
    workspace: Workspace, postgres_url: str, many_events: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitalsign.ingest import database_batches as database

    for account in ("a0", "a1", "a2"):
        add_account(workspace, account)
    source = DatabaseSource.model_validate(
        {
            "name": "product",
            "into": "events",
            "url": postgres_url,
            "table": many_events,
            "watermark": "n",
        }
    )
    load_staged = database.load_staged
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:  # while the reader thread is reading the next batch
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return load_staged(*args, **kwargs)

    monkeypatch.setattr(database, "load_staged", failing)
    with pytest.raises(IngestError, match="server closed the connection"):
        load_database(workspace, source, EVENTS_MAPPING, "events", batch_rows=100)
    assert count(workspace, "SELECT count(*) FROM events") == 0
    assert count(workspace, "SELECT count(*) FROM quarantine") == 0
    assert read_watermark(workspace.duckdb, "product") is None
    monkeypatch.setattr(database, "load_staged", load_staged)
    report = load_database(workspace, source, EVENTS_MAPPING, "events", batch_rows=100)
    assert (report.read, report.loaded) == (1000, 989)
    assert read_watermark(workspace.duckdb, "product") == "1000"


def test_a_duckdb_error_in_a_later_batch_is_the_error_reported_and_leaves_nothing(
    workspace: Workspace, postgres_url: str, many_events: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from vitalsign.ingest import database_batches
    from vitalsign.ingest.occurrences import counting

    for account in ("a0", "a1", "a2"):
        add_account(workspace, account)
    source = DatabaseSource.model_validate(
        {"name": "product", "into": "events", "url": postgres_url, "table": many_events}
    )
    load_staged = database_batches.load_staged
    calls: list[int] = []

    def failing(con: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            con.execute("SELECT CAST('not a number' AS INTEGER)")
        return load_staged(con, *args, **kwargs)

    monkeypatch.setattr(database_batches, "load_staged", failing)
    with pytest.raises(duckdb.ConversionException, match="not a number"):
        load_database(workspace, source, EVENTS_MAPPING, "events", batch_rows=100)
    assert count(workspace, "SELECT count(*) FROM events") == 0
    assert not counting(workspace.duckdb)  # no count of a failed load is left behind


def test_a_query_that_fails_after_some_batches_were_read_leaves_nothing(
    workspace: Workspace, postgres_url: str, many_events: str
) -> None:
    for account in ("a0", "a1", "a2"):
        add_account(workspace, account)
    source = DatabaseSource.model_validate(
        {
            "name": "product",
            "into": "events",
            "url": postgres_url,  # PostgreSQL fails at row 700, after sending 699 rows
            "query": f"SELECT id, account, at, kind, 1 / (n - 700) AS boom FROM {many_events}",
        }
    )
    with pytest.raises(IngestError, match="source product: division by zero"):
        load_database(workspace, source, EVENTS_MAPPING, "events", batch_rows=100)
    assert count(workspace, "SELECT count(*) FROM events") == 0
    assert count(workspace, "SELECT count(*) FROM quarantine") == 0
    assert count(workspace, "SELECT count(*) FROM ingest_runs WHERE status = 'ok'") == 0


def test_a_snapshot_read_in_batches_deletes_only_keys_absent_from_every_batch(
    workspace: Workspace, postgres_url: str, crm: str
) -> None:
    source = DatabaseSource.model_validate(
        {
            "name": "crm",
            "into": "accounts",
            "url": postgres_url,
            "table": crm,
            "mode": "snapshot",
            "columns": CRM_COLUMNS,
        }
    )
    options = load_options(source)
    first = load_database(workspace, source, CRM_MAPPING, "accounts", options, batch_rows=3)
    assert (first.read, first.inserted) == (10, 10)
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute(f"DELETE FROM {crm} WHERE id = 'c5'")
    second = load_database(workspace, source, CRM_MAPPING, "accounts", options, batch_rows=3)
    assert (second.read, second.unchanged, second.deleted) == (9, 9, 1) and second.balanced
    deleted = workspace.duckdb.execute(
        "SELECT account_id FROM accounts WHERE deleted_at IS NOT NULL"
    ).fetchall()
    assert deleted == [("c5",)]


def test_identical_events_without_ids_are_counted_over_every_batch(
    workspace: Workspace, postgres_url: str
) -> None:
    add_account(workspace, "a0")
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute("DROP TABLE IF EXISTS clicks")
        pg.execute(  # 30 rows: 5 distinct clicks, each 6 times, spread over the batches
            "CREATE TABLE clicks AS SELECT 'a0' AS account, '2024-01-01 10:00:0' || (i % 5) "
            "AS at, 'click' AS kind FROM generate_series(1, 30) i"
        )
    source = DatabaseSource.model_validate(
        {"name": "clicks", "into": "events", "url": postgres_url, "table": "clicks"}
    )
    mapping = Mapping.model_validate(
        {"columns": {"account_id": "account", "timestamp": "at", "event": "kind"}}
    )
    first = load_database(workspace, source, mapping, "events", batch_rows=4)
    assert (first.read, first.inserted, first.unchanged) == (30, 30, 0)
    assert count(workspace, "SELECT count(DISTINCT event_id) FROM events") == 30
    assert count(workspace, "SELECT count(*) FROM events WHERE event_id LIKE 'h:%:6'") == 5
    again = load_database(workspace, source, mapping, "events", batch_rows=7)
    assert (again.inserted, again.unchanged) == (0, 30)
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute("INSERT INTO clicks VALUES ('a0', '2024-01-01 10:00:00', 'click')")
    more = load_database(workspace, source, mapping, "events", batch_rows=4)
    assert (more.inserted, more.unchanged) == (1, 30)
