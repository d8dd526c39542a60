"""Early warning and calls to action: alert rules, their lifecycle, delivery, tasks, stats.

The Python API the CLI and the web app call (docs/alerts.md, "Python API"):

>>> from vitalsign import alerts  # doctest: +SKIP
>>> config = alerts.load_alert_config("acme/alerts.yml", ws.load_model().spec).config
>>> alerts.evaluate_alerts(ws.duckdb, config, ws.load_model())  # doctest: +SKIP
>>> alerts.list_alerts(ws.duckdb, owner="ann", status="active").items  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitalsign.alerts.config import AlertConfig
    from vitalsign.alerts.daily import DailyReport, StepResult, run_daily
    from vitalsign.alerts.digest import DigestReport, enqueue_digests
    from vitalsign.alerts.evaluation import EvaluationReport, evaluate_alerts, evaluate_history
    from vitalsign.alerts.inbox import (
        Alert,
        AlertPage,
        acknowledge_alert,
        get_alert,
        list_alerts,
        set_feedback,
    )
    from vitalsign.alerts.loading import LoadedAlertConfig, load_alert_config, parse_alert_config
    from vitalsign.alerts.outbox import (
        DeliveryReport,
        deliver_due,
        drain,
        list_outbox,
        retry_failed,
    )
    from vitalsign.alerts.overrides import list_overrides, revoke_override
    from vitalsign.alerts.schema import ensure_alert_tables
    from vitalsign.alerts.stats import AlertStats, alert_stats
    from vitalsign.alerts.tasks import (
        Task,
        TaskPage,
        close_task,
        create_task,
        get_task,
        list_tasks,
        update_task,
    )

_LAZY = {
    "Alert": "vitalsign.alerts.inbox",
    "AlertConfig": "vitalsign.alerts.config",
    "AlertPage": "vitalsign.alerts.inbox",
    "AlertStats": "vitalsign.alerts.stats",
    "DailyReport": "vitalsign.alerts.daily",
    "DeliveryReport": "vitalsign.alerts.outbox",
    "DigestReport": "vitalsign.alerts.digest",
    "EvaluationReport": "vitalsign.alerts.evaluation",
    "LoadedAlertConfig": "vitalsign.alerts.loading",
    "StepResult": "vitalsign.alerts.daily",
    "Task": "vitalsign.alerts.tasks",
    "TaskPage": "vitalsign.alerts.tasks",
    "acknowledge_alert": "vitalsign.alerts.inbox",
    "alert_stats": "vitalsign.alerts.stats",
    "close_task": "vitalsign.alerts.tasks",
    "create_task": "vitalsign.alerts.tasks",
    "deliver_due": "vitalsign.alerts.outbox",
    "drain": "vitalsign.alerts.outbox",
    "enqueue_digests": "vitalsign.alerts.digest",
    "ensure_alert_tables": "vitalsign.alerts.schema",
    "evaluate_alerts": "vitalsign.alerts.evaluation",
    "evaluate_history": "vitalsign.alerts.evaluation",
    "get_alert": "vitalsign.alerts.inbox",
    "get_task": "vitalsign.alerts.tasks",
    "list_alerts": "vitalsign.alerts.inbox",
    "list_outbox": "vitalsign.alerts.outbox",
    "list_overrides": "vitalsign.alerts.overrides",
    "list_tasks": "vitalsign.alerts.tasks",
    "load_alert_config": "vitalsign.alerts.loading",
    "parse_alert_config": "vitalsign.alerts.loading",
    "retry_failed": "vitalsign.alerts.outbox",
    "revoke_override": "vitalsign.alerts.overrides",
    "run_daily": "vitalsign.alerts.daily",
    "set_feedback": "vitalsign.alerts.inbox",
    "update_task": "vitalsign.alerts.tasks",
}

__all__ = [
    "Alert",
    "AlertConfig",
    "AlertPage",
    "AlertStats",
    "DailyReport",
    "DeliveryReport",
    "DigestReport",
    "EvaluationReport",
    "LoadedAlertConfig",
    "StepResult",
    "Task",
    "TaskPage",
    "acknowledge_alert",
    "alert_stats",
    "close_task",
    "create_task",
    "deliver_due",
    "drain",
    "enqueue_digests",
    "ensure_alert_tables",
    "evaluate_alerts",
    "evaluate_history",
    "get_alert",
    "get_task",
    "list_alerts",
    "list_outbox",
    "list_overrides",
    "list_tasks",
    "load_alert_config",
    "parse_alert_config",
    "retry_failed",
    "revoke_override",
    "run_daily",
    "set_feedback",
    "update_task",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use, so the CLI starts without pandas."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
