"""The DDL of the workspace database: canonical tables and vitalsign's own tables."""

from __future__ import annotations

from typing import Any

from vitalsign.model.canonical import (
    ACCOUNTS,
    CANONICAL_TABLES,
    DELETED_AT,
    SQL_TYPES,
    CanonicalTable,
)

# Columns account_history adds to the accounts columns (docs/tables.md).
HISTORY_COLUMNS = {
    "valid_from": "TIMESTAMP",  # NULL: the first version, in force since the beginning
    "valid_to": "TIMESTAMP",  # NULL: the current version
    "recorded_at": "TIMESTAMP",
    "run_id": "VARCHAR",
}

# Columns later releases added to `overrides`: an override recorded (or revoked) between
# scoring runs applies from (or stops at) the latest snapshot it re-scored, not from the
# moment it was recorded (vitalsign.engine.rescore).
OVERRIDE_COLUMNS_ADDED = ("applies_from", "revoked_from")
# vitalsign's own tables: score history, overrides and the audit trail.
INTERNAL_DDL: dict[str, str] = {
    "scores": """
        CREATE TABLE IF NOT EXISTS scores (
            snapshot_date DATE NOT NULL,
            model_name VARCHAR NOT NULL,
            model_hash VARCHAR NOT NULL,
            account_id VARCHAR NOT NULL,
            name VARCHAR, owner VARCHAR, segment VARCHAR, arr DOUBLE,
            scorecard VARCHAR, model_segment VARCHAR,
            score DOUBLE, base_score DOUBLE,
            band VARCHAR NOT NULL, computed_band VARCHAR NOT NULL,
            coverage DOUBLE NOT NULL, gate_pass BOOLEAN NOT NULL, flags VARCHAR NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (snapshot_date, model_name, account_id)
        )""",
    "score_items": """
        CREATE TABLE IF NOT EXISTS score_items (
            snapshot_date DATE NOT NULL,
            model_name VARCHAR NOT NULL,
            account_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            raw_value DOUBLE, raw_text VARCHAR,
            points DOUBLE, weight DOUBLE, contribution DOUBLE
        )""",
    "overrides": """
        CREATE TABLE IF NOT EXISTS overrides (
            override_id VARCHAR PRIMARY KEY,
            account_id VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            author VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP,
            revoked_at TIMESTAMP,
            applies_from TIMESTAMP,
            revoked_from TIMESTAMP
        )""",
    # Notes CSMs write about an account (vitalsign.store.notes), audited as note.add.
    "notes": """
        CREATE TABLE IF NOT EXISTS notes (
            note_id VARCHAR PRIMARY KEY,
            account_id VARCHAR NOT NULL,
            author VARCHAR NOT NULL,
            body VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""",
    "audit_log": """
        CREATE TABLE IF NOT EXISTS audit_log (
            logged_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            subject VARCHAR NOT NULL,
            detail VARCHAR NOT NULL
        )""",
    # Ingestion (vitalsign.ingest): runs, quarantined rows, watermarks, the event API.
    "ingest_runs": """
        CREATE TABLE IF NOT EXISTS ingest_runs (
            run_id VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            target_table VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status VARCHAR NOT NULL,
            rows_read BIGINT NOT NULL,
            rows_inserted BIGINT NOT NULL,
            rows_updated BIGINT NOT NULL,
            rows_unchanged BIGINT NOT NULL,
            rows_quarantined BIGINT NOT NULL,
            rows_deleted BIGINT NOT NULL,
            rows_repeated BIGINT NOT NULL DEFAULT 0,
            detail VARCHAR NOT NULL
        )""",
    # What each ingest run changed: updated keys (with the columns that changed), deleted keys.
    "ingest_changes": """
        CREATE TABLE IF NOT EXISTS ingest_changes (
            run_id VARCHAR NOT NULL,
            target_table VARCHAR NOT NULL,
            row_key VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            changed VARCHAR NOT NULL
        )""",
    "quarantine_ids": "CREATE SEQUENCE IF NOT EXISTS quarantine_ids START 1",
    "quarantine": """
        CREATE TABLE IF NOT EXISTS quarantine (
            quarantine_id BIGINT PRIMARY KEY DEFAULT nextval('quarantine_ids'),
            run_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            target_table VARCHAR NOT NULL,
            line BIGINT,
            raw VARCHAR NOT NULL,
            raw_hash VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            mapping VARCHAR NOT NULL,
            quarantined_at TIMESTAMP NOT NULL,
            status VARCHAR NOT NULL,
            resolved_at TIMESTAMP,
            resolved_run_id VARCHAR
        )""",
    "ingest_watermarks": """
        CREATE TABLE IF NOT EXISTS ingest_watermarks (
            source VARCHAR NOT NULL,
            item VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (source, item)
        )""",
    "event_api_keys": """
        CREATE TABLE IF NOT EXISTS event_api_keys (
            write_key VARCHAR PRIMARY KEY,
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP
        )""",
    "event_api_messages": """
        CREATE TABLE IF NOT EXISTS event_api_messages (
            message_id VARCHAR PRIMARY KEY,
            type VARCHAR NOT NULL,
            received_at TIMESTAMP NOT NULL,
            run_id VARCHAR NOT NULL,
            payload VARCHAR NOT NULL
        )""",
    # The expansion score (vitalsign.store.expansion): the model's second score kind.
    "expansion_scores": """
        CREATE TABLE IF NOT EXISTS expansion_scores (
            snapshot_date DATE NOT NULL,
            model_name VARCHAR NOT NULL,
            account_id VARCHAR NOT NULL,
            score DOUBLE, coverage DOUBLE NOT NULL,
            contributions VARCHAR NOT NULL,
            PRIMARY KEY (snapshot_date, model_name, account_id)
        )""",
    # Freshness (vitalsign.store.freshness): per snapshot, each table the model reads.
    "score_freshness": """
        CREATE TABLE IF NOT EXISTS score_freshness (
            snapshot_date DATE NOT NULL,
            model_name VARCHAR NOT NULL,
            table_name VARCHAR NOT NULL,
            newest TIMESTAMP,
            allowed_days INTEGER,
            stale BOOLEAN NOT NULL,
            signals VARCHAR NOT NULL,
            PRIMARY KEY (snapshot_date, model_name, table_name)
        )""",
    # Jobs the server ran (vitalsign.web.jobs): the scheduled daily job, "run now", "sync now".
    "job_runs": """
        CREATE TABLE IF NOT EXISTS job_runs (
            run_id VARCHAR PRIMARY KEY,
            job VARCHAR NOT NULL,
            trigger VARCHAR NOT NULL,
            started_by VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status VARCHAR NOT NULL,
            detail VARCHAR NOT NULL DEFAULT '',
            error VARCHAR
        )""",
}


def system_columns(table: CanonicalTable) -> dict[str, str]:
    """Columns vitalsign keeps beside a canonical table's own: `deleted_at` unless append-only."""
    return {} if table.append_only else {DELETED_AT: "TIMESTAMP"}


def canonical_ddl(table: CanonicalTable) -> str:
    """Return the CREATE TABLE statement of a canonical table."""
    columns = [
        f"{c.name} {SQL_TYPES[c.type]}{' NOT NULL' if c.required else ''}" for c in table.columns
    ]
    columns += [f"{name} {sql}" for name, sql in system_columns(table).items()]
    joined = ",\n    ".join(columns)
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n    {joined}\n)"


def history_ddl(accounts: CanonicalTable) -> str:
    """Return the CREATE TABLE statement of `account_history`: every version of every account."""
    columns = [f"{c.name} {SQL_TYPES[c.type]}" for c in accounts.columns]
    columns += [f"{DELETED_AT} TIMESTAMP"]
    columns += [f"{name} {sql}" for name, sql in HISTORY_COLUMNS.items()]
    return f"CREATE TABLE IF NOT EXISTS account_history ({', '.join(columns)})"


def all_ddl(accounts: CanonicalTable = ACCOUNTS) -> list[str]:
    """Return every statement that creates the workspace's tables."""
    tables = {**CANONICAL_TABLES, "accounts": accounts}
    return (
        [canonical_ddl(t) for t in tables.values()]
        + [history_ddl(accounts)]
        + list(INTERNAL_DDL.values())
    )


def ensure_schema(con: Any, accounts: CanonicalTable = ACCOUNTS) -> None:
    """Create missing tables and add missing columns (custom fields, system columns)."""
    for statement in all_ddl(accounts):
        con.execute(statement)
    tables = {**CANONICAL_TABLES, "accounts": accounts}
    present = {
        (table, column)
        for table, column in con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    }
    wanted: list[tuple[str, str, str]] = []
    for table in tables.values():
        wanted += [(table.name, c.name, SQL_TYPES[c.type]) for c in table.columns]
        wanted += [(table.name, n, sql) for n, sql in system_columns(table).items()]
    wanted += [("account_history", c.name, SQL_TYPES[c.type]) for c in accounts.columns]
    for table_name, column, sql_type in wanted:
        if (table_name, column) not in present:
            con.execute(f"ALTER TABLE {table_name} ADD COLUMN {column} {sql_type}")
    _migrate_ingest_runs(con, present)
    for column in OVERRIDE_COLUMNS_ADDED:
        if ("overrides", column) not in present:
            con.execute(f"ALTER TABLE overrides ADD COLUMN {column} TIMESTAMP")


def _migrate_ingest_runs(con: Any, present: set[tuple[str, str]]) -> None:
    """Bring an ingest_runs table of an earlier release to today's counts (loaded → inserted)."""
    renames = {"rows_loaded": "rows_inserted", "rows_duplicates": "rows_unchanged"}
    for old, new in renames.items():
        if ("ingest_runs", old) in present:
            con.execute(f"ALTER TABLE ingest_runs RENAME COLUMN {old} TO {new}")
    for column in ("rows_updated", "rows_deleted", "rows_repeated"):
        if ("ingest_runs", "rows_read") in present and ("ingest_runs", column) not in present:
            con.execute(f"ALTER TABLE ingest_runs ADD COLUMN {column} BIGINT DEFAULT 0")
