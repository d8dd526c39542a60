"""The DDL of the alert tables: alerts, runs, digests, outbox, tasks, baselines, reminders.

They live in the workspace database beside the score history; `ensure_alert_tables` creates
whatever is missing and is called by every public function of the alerts package.
"""

from __future__ import annotations

from typing import Any

ALERT_DDL: dict[str, str] = {
    "alerts": """
        CREATE TABLE IF NOT EXISTS alerts (
            alert_id VARCHAR PRIMARY KEY,
            rule VARCHAR NOT NULL,
            rule_type VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            account_id VARCHAR NOT NULL,
            account_name VARCHAR,
            owner VARCHAR,
            model_name VARCHAR NOT NULL,
            model_hash VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL,
            fired_values VARCHAR NOT NULL,
            summary VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            delivery VARCHAR NOT NULL,
            opened_at TIMESTAMP NOT NULL,
            last_seen_date DATE NOT NULL,
            last_values VARCHAR NOT NULL,
            acknowledged_at TIMESTAMP,
            acknowledged_by VARCHAR,
            resolved_date DATE,
            resolved_at TIMESTAMP,
            resolved_reason VARCHAR,
            digest_id VARCHAR,
            useful BOOLEAN,
            feedback_by VARCHAR,
            feedback_at TIMESTAMP,
            feedback_note VARCHAR
        )""",
    "alert_runs": """
        CREATE TABLE IF NOT EXISTS alert_runs (
            model_name VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL,
            evaluated_at TIMESTAMP NOT NULL,
            opened INTEGER NOT NULL,
            kept INTEGER NOT NULL,
            resolved INTEGER NOT NULL,
            suppressed INTEGER NOT NULL
        )""",
    "alert_digests": """
        CREATE TABLE IF NOT EXISTS alert_digests (
            digest_id VARCHAR PRIMARY KEY,
            owner VARCHAR NOT NULL,
            frequency VARCHAR NOT NULL,
            as_of DATE NOT NULL,
            since DATE,
            created_at TIMESTAMP NOT NULL,
            content VARCHAR NOT NULL
        )""",
    "outbox": """
        CREATE TABLE IF NOT EXISTS outbox (
            message_id VARCHAR PRIMARY KEY,
            channel VARCHAR NOT NULL,
            recipient VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            subject VARCHAR NOT NULL,
            payload VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at TIMESTAMP NOT NULL,
            last_error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            delivered_at TIMESTAMP
        )""",
    "tasks": """
        CREATE TABLE IF NOT EXISTS tasks (
            task_id VARCHAR PRIMARY KEY,
            alert_id VARCHAR,
            account_id VARCHAR NOT NULL,
            playbook VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            steps VARCHAR NOT NULL,
            assignee VARCHAR,
            due_date DATE,
            status VARCHAR NOT NULL,
            outcome VARCHAR,
            closed_by VARCHAR,
            note VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            closed_at TIMESTAMP
        )""",
    "alert_rules_seen": """
        CREATE TABLE IF NOT EXISTS alert_rules_seen (
            model_name VARCHAR NOT NULL,
            rule VARCHAR NOT NULL,
            first_date DATE NOT NULL,
            PRIMARY KEY (model_name, rule)
        )""",
    "alert_baselines": """
        CREATE TABLE IF NOT EXISTS alert_baselines (
            model_name VARCHAR NOT NULL,
            rule VARCHAR NOT NULL,
            account_id VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL,
            PRIMARY KEY (model_name, rule, account_id)
        )""",
    "reminders": """
        CREATE TABLE IF NOT EXISTS reminders (
            model_name VARCHAR NOT NULL,
            rule VARCHAR NOT NULL,
            account_id VARCHAR NOT NULL,
            account_name VARCHAR,
            owner VARCHAR,
            since_date DATE NOT NULL,
            last_seen_date DATE NOT NULL,
            last_values VARCHAR NOT NULL,
            resolved_date DATE
        )""",
}


def ensure_alert_tables(connection: Any) -> None:
    """Create the alert tables that do not exist yet."""
    for statement in ALERT_DDL.values():
        connection.execute(statement)
