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
