"""Typed bodies of the inbox's API answers: alerts and tasks, one at a time and by the page.

The shared conventions (ISO dates as text, extra keys allowed) are web/api_schemas.py's.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from vitalsign.web.api_schemas import Day, Moment, _Out, _Page


class AlertOut(_Out):
    """An alert: which rule fired for which account, on which snapshot, with which values."""

    alert_id: str
    rule: str
    rule_type: str
    severity: str
    account_id: str
    account_name: str | None = None
    owner: str | None = None
    model_name: str
    model_hash: str
    snapshot_date: Day
    summary: str
    fired_values: dict[str, Any]
    last_values: dict[str, Any]
    status: str = Field(description="open, acknowledged or resolved.")
    delivery: str
    opened_at: Moment
    last_seen_date: Day | None = None
    acknowledged_at: Moment | None = None
    acknowledged_by: str | None = None
    resolved_date: Day | None = None
    resolved_reason: str | None = None
    digest_id: str | None = None
    useful: bool | None = None
    feedback_by: str | None = None
    feedback_note: str | None = None
    band: str | None = None


class AlertPage(_Page):
    """A page of alerts, newest first."""

    items: list[AlertOut]


class TaskOut(_Out):
    """A task: what to do for which account, by whom, by when, and how it ended."""

    task_id: str
    alert_id: str | None = None
    account_id: str
    playbook: str | None = None
    title: str
    steps: list[str] = Field(default_factory=list)
    assignee: str | None = None
    due_date: Day | None = None
    status: str
    outcome: str | None = None
    closed_by: str | None = None
    note: str | None = None
    created_at: Moment
    updated_at: Moment | None = None
    closed_at: Moment | None = None
    alert_rule: str | None = Field(default=None, description="The rule of the alert it came from.")
    alert_summary: str | None = Field(default=None, description="That alert's one-line summary.")
    alert_status: str | None = Field(default=None, description="That alert's status now.")


class TaskPage(_Page):
    """A page of tasks, soonest due first."""

    items: list[TaskOut]
