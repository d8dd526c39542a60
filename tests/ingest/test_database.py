"""A PostgreSQL source: a table or a query, read incrementally by a watermark column."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from ingest_support import add_account, count

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
