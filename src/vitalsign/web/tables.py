"""The web app's own tables (users, API tokens, sessions) and the indexes its pages rely on.

`ensure_web_tables` is called when the app starts and by the `vitalsign users` commands; every
statement is idempotent. The tables are prefixed `web_` because `users` is a canonical table
(the people at customer accounts).
"""

from __future__ import annotations

from typing import Any

WEB_DDL: dict[str, str] = {
    "web_users": """
        CREATE TABLE IF NOT EXISTS web_users (
            name VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            owner VARCHAR,
            password_hash VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            disabled_at TIMESTAMP
        )""",
    "web_tokens": """
        CREATE TABLE IF NOT EXISTS web_tokens (
            token_id VARCHAR PRIMARY KEY,
            token_hash VARCHAR NOT NULL UNIQUE,
            user_name VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP
        )""",
    "web_sessions": """
        CREATE TABLE IF NOT EXISTS web_sessions (
            session_hash VARCHAR PRIMARY KEY,
            user_name VARCHAR NOT NULL,
            csrf_token VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL
        )""",
}

# Columns added since a table was first created (idempotent, for older workspaces).
WEB_MIGRATIONS = (
    "ALTER TABLE web_users ADD COLUMN IF NOT EXISTS disabled_at TIMESTAMP",
    "ALTER TABLE web_users ADD COLUMN IF NOT EXISTS last_login_at TIMESTAMP",
    "ALTER TABLE web_tokens ADD COLUMN IF NOT EXISTS scope VARCHAR",  # NULL: made before, write
    "ALTER TABLE web_tokens ADD COLUMN IF NOT EXISTS expires_at TIMESTAMP",
    "ALTER TABLE web_tokens ADD COLUMN IF NOT EXISTS last_used_at TIMESTAMP",
)

# A single-column ART index: DuckDB answers `WHERE account_id = ?` (and nothing else in the
# WHERE clause) with an index lookup, so the account page reads an account's history without
# scanning every snapshot (docs/benchmarks.md, "Web"). DuckDB refuses ALTER TABLE on an indexed
# table: a migration of `scores` drops the index first (`DROP INDEX web_scores_account`); the
# app creates it again when it starts.
SERVING_INDEXES: dict[str, str] = {
    "web_scores_account": "CREATE INDEX IF NOT EXISTS web_scores_account ON scores (account_id)",
}


def ensure_web_tables(connection: Any, indexes: bool = True) -> None:
    """Create the web tables (and, with `indexes`, the serving indexes) that are missing."""
    for statement in WEB_DDL.values():
        connection.execute(statement)
    for statement in WEB_MIGRATIONS:
        connection.execute(statement)
    if indexes:
        for statement in SERVING_INDEXES.values():
            connection.execute(statement)
