"""The DDL of the workspace database: canonical tables and vitalsign's own tables."""

from __future__ import annotations

from vitalsign.model.canonical import CANONICAL_TABLES, SQL_TYPES, CanonicalTable

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
            revoked_at TIMESTAMP
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
            rows_loaded BIGINT NOT NULL,
            rows_duplicates BIGINT NOT NULL,
            rows_quarantined BIGINT NOT NULL,
            detail VARCHAR NOT NULL
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
}


def canonical_ddl(table: CanonicalTable) -> str:
    """Return the CREATE TABLE statement of a canonical table."""
    columns = ",\n    ".join(
        f"{c.name} {SQL_TYPES[c.type]}{' NOT NULL' if c.required else ''}" for c in table.columns
    )
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n    {columns}\n)"


def all_ddl() -> list[str]:
    """Return every statement that creates the workspace's tables."""
    return [canonical_ddl(t) for t in CANONICAL_TABLES.values()] + list(INTERNAL_DDL.values())
