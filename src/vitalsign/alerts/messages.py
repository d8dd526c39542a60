"""Words for alerts and digests: one-line summaries per rule type, and plain-text bodies.

Channels render the same structured payload (an alert or a digest, as stored in the
outbox); this module holds the text they share.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd


def plain(value: Any) -> Any:
    """Return `value` as JSON-ready Python (numpy, pandas and dates made plain)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return None if math.isnan(number) else round(number, 4)
    return value


def plural(count: int, singular: str, many: str | None = None) -> str:
    """Return "1 account" or "2 accounts": a count with its noun agreeing."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def _days(value: Any) -> str:
    """Return "1 day" or "28 days" for a stored day count."""
    return f"{value} day" if value == 1 else f"{value} days"


def band_label(band: Any, computed_band: Any) -> str:
    """Return "yellow", or "yellow (override; computed red)" when an override applies."""
    if computed_band is None or band == computed_band:
        return str(band)
    return f"{band} (override; computed {computed_band})"


def _num(value: Any) -> str:
    return "—" if value is None else f"{float(value):g}"


def _one(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f}"


def describe(rule_type: str, values: dict[str, Any]) -> str:
    """Return one sentence saying why a rule fired, from the values it recorded."""
    v = values
    if rule_type == "band_entered":
        return f"entered {v.get('band_now')} (was {v.get('band_before') or 'not scored'})"
    if rule_type == "band_left":
        return f"left {v.get('band_before')} (now {v.get('band_now')})"
    if rule_type == "score_below":
        return f"score {_one(v.get('score'))} is below {_num(v.get('threshold'))}"
    if rule_type == "score_dropped":
        over = v.get("smoothed_over")
        what = f"score (mean of the last {over} snapshots)" if over else "score"
        return (
            f"{what} dropped {_one(v.get('dropped'))} points within {_days(v.get('within_days'))} "
            f"({_one(v.get('peak'))} on {v.get('peak_date')} → {_one(v.get('score'))})"
        )
    if rule_type == "signal_threshold":
        value, threshold = _num(v.get("value")), _num(v.get("threshold"))
        return f"{v.get('signal')} is {value}, {v.get('side')} {threshold}"
    if rule_type == "signal_change":
        return (
            f"{v.get('signal')} changed {float(v.get('change_pct') or 0):+.1f}% "
            f"({_num(v.get('value_before'))} on {v.get('reference_snapshot')} → "
            f"{_num(v.get('value'))})"
        )
    if rule_type == "flag_raised":
        return f"risk flag raised: {', '.join(v.get('flags') or [])}"
    if rule_type == "gate_failed":
        return (
            f"key-metric gate {v.get('gate')} failed: score 0 "
            f"({_one(v.get('score_before_gate'))} before the gate)"
        )
    if rule_type == "commercial_disagreement":
        return (
            f"{v.get('band')} but {', '.join(v.get('signs') or [])}: "
            f"{'; '.join(v.get('details') or [])}"
        )
    if rule_type == "expansion_candidate":
        return (
            f"expansion score {_one(v.get('expansion_score'))} reaches "
            f"{_num(v.get('threshold'))}: an upsell candidate"
        )
    if rule_type in ("data_stale", "csm_rating_stale"):
        what = "CSM rating" if rule_type == "csm_rating_stale" else f"{v.get('source')} data"
        if v.get("last_seen") is None:
            return f"no {what} yet"
        rating = f" ({v.get('last_rating')})" if v.get("last_rating") else ""
        silent = _days(v.get("days_silent"))
        return f"no {what} for {silent} (last on {v.get('last_seen')}{rating})"
    return rule_type


def alert_subject(alert: dict[str, Any]) -> str:
    """Return the subject line of one alert."""
    name = alert.get("account_name") or alert["account_id"]
    return f"[{alert['severity']}] {name}: {alert['summary']}"


def alert_lines(alert: dict[str, Any]) -> list[str]:
    """Return the plain-text body of one alert."""
    lines = [
        f"{alert.get('account_name') or ''} ({alert['account_id']}), owner {alert.get('owner')}",
        f"Rule {alert['rule']} ({alert['rule_type']}, {alert['severity']}): {alert['summary']}",
        f"Score {_one(alert.get('score'))}, band "
        f"{band_label(alert.get('band'), alert.get('computed_band'))}",
        f"Snapshot {alert['snapshot_date']} of model {alert['model_name']} "
        f"({alert['model_hash']}); alert {alert['alert_id']}",
        f"Why: the account page shows why; or `vitalsign explain {alert['account_id']} "
        f"--as-of {alert['snapshot_date']}`",
    ]
    task = alert.get("task")
    if task:
        lines.append(f"Task {task['task_id']}: {task['title']} (due {task['due_date']})")
        lines += [f"  - {step}" for step in task.get("steps", [])]
    return lines


def digest_subject(digest: dict[str, Any]) -> str:
    """Return the subject line of a digest."""
    return (
        f"vitalsign {digest['frequency']} digest for {digest['owner']}, {digest['as_of']}: "
        f"{len(digest['new'])} new, {len(digest['open'])} open, "
        f"{len(digest['resolved'])} resolved"
    )


def _alert_row(alert: dict[str, Any]) -> str:
    name = alert.get("account_name") or alert["account_id"]
    band = band_label(alert.get("band"), alert.get("computed_band"))
    return f"- [{alert['severity']}] {name} ({alert['account_id']}, {band}): {alert['summary']}"


def override_text(override: dict[str, Any]) -> str:
    """Return one override of a digest: a band beside the computed one, or a signal's value."""
    name = f"{override.get('name') or override['account_id']} ({override['account_id']})"
    if "signal" in override:
        return f"{name}: {override['signal']} set to {override['value']} by override"
    band = band_label(override["band"], override["computed_band"])
    return f"{name}: score {_one(override.get('score'))}, band {band}"


def digest_lines(digest: dict[str, Any]) -> list[str]:
    """Return the plain-text body of a digest, section by section."""
    since = f" since {digest['since']}" if digest.get("since") else ""
    lines = [f"Alerts for {digest['owner']} as of {digest['as_of']}{since}.", ""]
    for key, title in (
        ("new", "New alerts"),
        ("open", "Still open"),
        ("resolved", "Resolved (the condition cleared)"),
    ):
        lines.append(f"{title} ({len(digest[key])}):")
        lines += [_alert_row(a) for a in digest[key]] or ["- none"]
        lines.append("")
    lines.append(f"Open tasks ({len(digest['tasks'])}):")
    for task in digest["tasks"]:
        late = " OVERDUE" if task.get("overdue") else ""
        lines.append(
            f"- {task['title']} ({task['account_id']}), due {task['due_date']}{late} "
            f"[{task['task_id']}]"
        )
    if not digest["tasks"]:
        lines.append("- none")
    if digest.get("overrides"):
        lines += ["", f"Overrides in force ({len(digest['overrides'])}):"]
        lines += [f"- {override_text(o)}" for o in digest["overrides"]]
    for kind, heading in (("opportunity", "Opportunities"), ("reminder", "Reminders")):
        rows = [r for r in digest.get("reminders") or [] if r.get("kind", "reminder") == kind]
        if rows:
            lines += ["", f"{heading}:"]
            lines += [f"- {r['text']}" for r in rows]
    return lines
