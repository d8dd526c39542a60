"""The alert inbox API: list and filter alerts, acknowledge them, say whether they were useful.

The web app and the CLI call these; every change is audited (who, when, what).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from vitalsign.alerts.filters import where_clause
from vitalsign.alerts.messages import band_label, plain
from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.alerts.tasks import utc_now
from vitalsign.errors import AlertError
from vitalsign.store.overrides import audit
from vitalsign.store.transaction import transaction

ALERT_STATUSES = ("open", "acknowledged", "resolved")


@dataclass(frozen=True)
class Alert:
    """One alert: which rule fired for which account, on which snapshot, with which values."""

    alert_id: str
    rule: str
    rule_type: str
    severity: str
    account_id: str
    account_name: str | None
    owner: str | None
    model_name: str
    model_hash: str
    snapshot_date: dt.date
    summary: str
    fired_values: dict[str, Any]
    last_values: dict[str, Any]
    status: str
    delivery: str
    opened_at: dt.datetime
    last_seen_date: dt.date
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    resolved_date: dt.date | None
    resolved_reason: str | None
    digest_id: str | None
    useful: bool | None
    feedback_by: str | None
    feedback_note: str | None

    @property
    def band(self) -> str:
        """The band when the alert fired, with the computed band when overridden."""
        return band_label(self.fired_values.get("band"), self.fired_values.get("computed_band"))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data: dict[str, Any] = plain(asdict(self))
        data["band"] = self.band
        return data


@dataclass(frozen=True)
class AlertPage:
    """One page of alerts and the total that matched."""

    items: list[Alert]
    total: int
    limit: int
    offset: int


def _optional(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    return value


def _date(value: Any) -> dt.date | None:
    value = _optional(value)
    return None if value is None else pd.Timestamp(value).date()


def _alert(row: dict[str, Any]) -> Alert:
    stamp = _optional(row["acknowledged_at"])
    useful = _optional(row["useful"])
    return Alert(
        alert_id=str(row["alert_id"]),
        rule=str(row["rule"]),
        rule_type=str(row["rule_type"]),
        severity=str(row["severity"]),
        account_id=str(row["account_id"]),
        account_name=_optional(row["account_name"]),
        owner=_optional(row["owner"]),
        model_name=str(row["model_name"]),
        model_hash=str(row["model_hash"]),
        snapshot_date=pd.Timestamp(row["snapshot_date"]).date(),
        summary=str(row["summary"]),
        fired_values=dict(json.loads(row["fired_values"])),
        last_values=dict(json.loads(row["last_values"])),
        status=str(row["status"]),
        delivery=str(row["delivery"]),
        opened_at=pd.Timestamp(row["opened_at"]).to_pydatetime(),
        last_seen_date=pd.Timestamp(row["last_seen_date"]).date(),
        acknowledged_at=None if stamp is None else pd.Timestamp(stamp).to_pydatetime(),
        acknowledged_by=_optional(row["acknowledged_by"]),
        resolved_date=_date(row["resolved_date"]),
        resolved_reason=_optional(row["resolved_reason"]),
        digest_id=_optional(row["digest_id"]),
        useful=None if useful is None else bool(useful),
        feedback_by=_optional(row["feedback_by"]),
        feedback_note=_optional(row["feedback_note"]),
    )


def list_alerts(
    connection: Any,
    *,
    account_id: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    account_ids: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AlertPage:
    """Return alerts, newest first; status is open, acknowledged, resolved or "active".

    "active" means open or acknowledged (the condition still holds). `account_ids`
    restricts to those accounts (e.g. the book of the user asking).

    >>> list_alerts(ws.duckdb, owner="ann", status="active", limit=20).total  # doctest: +SKIP
    7
    """
    ensure_alert_tables(connection)
    if status not in (None, "active", *ALERT_STATUSES):
        raise AlertError(f"alert status {status!r}: use active, {', '.join(ALERT_STATUSES)}")
    if limit < 1 or offset < 0:
        raise AlertError("paging: limit must be at least 1 and offset at least 0")
    clause, params = where_clause(
        {"account_id": account_id, "owner": owner, "rule": rule, "severity": severity},
        account_ids,
        status,
        ("open", "acknowledged"),
    )
    total = connection.execute(f"SELECT count(*) FROM alerts WHERE {clause}", params).fetchone()[0]
    frame = connection.execute(
        f"SELECT * FROM alerts WHERE {clause} "
        "ORDER BY snapshot_date DESC, CASE severity WHEN 'critical' THEN 0 "
        "WHEN 'warning' THEN 1 ELSE 2 END, account_id, alert_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).df()
    items = [_alert(r) for r in frame.to_dict("records")]
    return AlertPage(items=items, total=int(total), limit=limit, offset=offset)


def get_alert(connection: Any, alert_id: str) -> Alert:
    """Return one alert or raise AlertError."""
    ensure_alert_tables(connection)
    frame = connection.execute("SELECT * FROM alerts WHERE alert_id = ?", [alert_id]).df()
    if frame.empty:
        raise AlertError(f"no alert {alert_id!r}; list them with `vitalsign alerts list`")
    return _alert(frame.to_dict("records")[0])


def acknowledge_alert(connection: Any, alert_id: str, actor: str, note: str | None = None) -> Alert:
    """Mark an open alert as seen by `actor`; it still resolves itself later. Audited."""
    alert = get_alert(connection, alert_id)
    if alert.status != "open":
        raise AlertError(
            f"alert {alert_id} is {alert.status}; only an open alert can be acknowledged"
        )
    with transaction(connection):
        connection.execute(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? "
            "WHERE alert_id = ?",
            [utc_now(), actor, alert_id],
        )
        audit(connection, actor, "alert.acknowledge", alert_id, {"note": note})
    return get_alert(connection, alert_id)


def set_feedback(
    connection: Any, alert_id: str, useful: bool, actor: str, note: str | None = None
) -> Alert:
    """Record whether an alert was useful (the precision in `alerts stats`). Audited.

    >>> set_feedback(ws.duckdb, "a-1f2e3d", useful=False, actor="ann").useful  # doctest: +SKIP
    False
    """
    get_alert(connection, alert_id)
    with transaction(connection):
        connection.execute(
            "UPDATE alerts SET useful = ?, feedback_by = ?, feedback_at = ?, feedback_note = ? "
            "WHERE alert_id = ?",
            [useful, actor, utc_now(), note, alert_id],
        )
        audit(connection, actor, "alert.feedback", alert_id, {"useful": useful, "note": note})
    return get_alert(connection, alert_id)
