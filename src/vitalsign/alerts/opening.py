"""The rows a new alert writes: its id, its values and summary, the payload messages carry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pandas as pd

from vitalsign.alerts.config import AlertConfig
from vitalsign.alerts.messages import describe, plain
from vitalsign.model.loader import LoadedModel

ALERT_COLUMNS = [
    "alert_id",
    "rule",
    "rule_type",
    "severity",
    "account_id",
    "account_name",
    "owner",
    "model_name",
    "model_hash",
    "snapshot_date",
    "fired_values",
    "summary",
    "status",
    "delivery",
    "opened_at",
    "last_seen_date",
    "last_values",
]


def alert_id_for(model_name: str, rule: str, account_id: str, day: dt.date) -> str:
    """Return the deterministic id of the alert a rule opens for an account on a day."""
    key = f"{model_name}|{rule}|{account_id}|{day.isoformat()}"
    return "a-" + hashlib.sha1(key.encode()).hexdigest()[:14]


def new_alert(
    config: AlertConfig,
    model: LoadedModel,
    population: pd.DataFrame,
    rule_name: str,
    account_id: str,
    values: dict[str, Any],
    day: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    rule = config.rules[rule_name]
    account = population.loc[account_id]
    owner = account["owner"] if isinstance(account["owner"], str) else config.fallback_owner
    fired = plain(
        {
            **values,
            "score": account["score"],
            "band": account["band"],
            "computed_band": account["computed_band"],
        }
    )
    summary = describe(rule.type, fired)
    encoded = json.dumps(fired, sort_keys=True)
    return {
        "alert_id": alert_id_for(model.name, rule_name, account_id, day),
        "rule": rule_name,
        "rule_type": rule.type,
        "severity": rule.severity,
        "account_id": account_id,
        "account_name": account["name"] if isinstance(account["name"], str) else None,
        "owner": owner,
        "model_name": model.name,
        "model_hash": str(account["model_hash"]),
        "snapshot_date": day,
        "fired_values": encoded,
        "summary": summary,
        "status": "open",
        "delivery": "none",
        "opened_at": now,
        "last_seen_date": day,
        "last_values": encoded,
        # for messages only
        "score": fired["score"],
        "band": fired["band"],
        "computed_band": fired["computed_band"],
        "values": fired,
    }


def alert_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON-ready alert that messages carry."""
    payload: dict[str, Any] = plain(
        {k: v for k, v in alert.items() if k not in ("fired_values", "last_values")}
    )
    return payload


def insert_rows(connection: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows)
    connection.register("_new_rows", frame)
    try:
        connection.execute(
            f"INSERT OR IGNORE INTO {table} ({', '.join(frame.columns)}) "
            f"SELECT {', '.join(frame.columns)} FROM _new_rows"
        )
    finally:
        connection.unregister("_new_rows")
