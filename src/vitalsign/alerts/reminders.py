"""Reminders: chores and opportunities become one digest line per owner, not alerts.

A rule with `reminder: true` (the default of `csm_rating_stale`, a chore, and of
`expansion_candidate`, an opportunity: upsell candidates; `data_stale` may opt in) opens
no alert per account. Each evaluation keeps, per owner, the accounts for which it
holds in the `reminders` table (since when, last seen, resolved when it cleared), and the
owner's digest carries one line per rule: "14 accounts need a CSM rating (none, or older
than 90 days): Acme, Beta, … and 9 more". Owners who get alerts immediately receive a
weekly digest for their reminders.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from vitalsign.alerts.config import AlertConfig
from vitalsign.alerts.messages import plain

SHOWN = 5  # account names per digest line


def is_reminder(rule: Any) -> bool:
    """Say whether a rule gives digest lines instead of alerts."""
    return bool(getattr(rule, "reminder", False))


def update_reminders(
    connection: Any,
    config: AlertConfig,
    model_name: str,
    day: dt.date,
    holding: pd.DataFrame,
    population: pd.DataFrame,
) -> int:
    """Open, refresh and resolve reminders from the reminder rules' holding rows (inside
    the caller's transaction); return how many are open after `day`."""
    current = connection.execute(
        "SELECT rule, account_id FROM reminders WHERE model_name = ? AND resolved_date IS NULL",
        [model_name],
    ).fetchall()
    is_open = {(str(r), str(a)) for r, a in current}
    rows = []
    for rule, account_id, values in zip(
        holding["rule"].astype(str),
        holding["account_id"].astype(str),
        holding["values"],
        strict=True,
    ):
        account = population.loc[account_id]
        owner = account["owner"] if isinstance(account["owner"], str) else config.fallback_owner
        rows.append(
            {
                "rule": rule,
                "account_id": account_id,
                "account_name": account["name"] if isinstance(account["name"], str) else None,
                "owner": owner,
                "last_values": json.dumps(plain(values), sort_keys=True),
                "new": (rule, account_id) not in is_open,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["rule", "account_id", "account_name", "owner", "last_values", "new"]
    )
    connection.register("_holding", frame)
    try:
        connection.execute(
            "UPDATE reminders r SET resolved_date = ? WHERE model_name = ? AND resolved_date IS "
            "NULL AND NOT EXISTS (SELECT 1 FROM _holding h WHERE h.rule = r.rule "
            "AND h.account_id = r.account_id)",
            [day, model_name],
        )
        connection.execute(
            "UPDATE reminders r SET last_seen_date = ?, last_values = h.last_values, "
            "owner = h.owner FROM _holding h WHERE r.model_name = ? AND r.resolved_date IS NULL "
            "AND h.rule = r.rule AND h.account_id = r.account_id",
            [day, model_name],
        )
        connection.execute(
            "INSERT INTO reminders SELECT ?, rule, account_id, account_name, owner, ?, ?, "
            "last_values, NULL FROM _holding WHERE new",
            [model_name, day, day],
        )
    finally:
        connection.unregister("_holding")
    return len(frame)


def kind_of(rule: Any) -> str:
    """Say whether a reminder rule's line is a chore ("reminder") or an "opportunity"."""
    return "opportunity" if rule.type == "expansion_candidate" else "reminder"


def _what(rule: Any, count: int, threshold: Any) -> str:
    """Return what the accounts of a reminder line have in common, agreeing with `count`."""
    days = getattr(rule, "days", "")
    one = count == 1
    if rule.type == "csm_rating_stale":
        verb = "needs" if one else "need"
        return f"{verb} a CSM rating (none, or the latest is older than {days})"
    if rule.type == "expansion_candidate":
        reach = f"expansion score {threshold:g} or more" if threshold is not None else "expansion"
        return f"{'is an upsell candidate' if one else 'are upsell candidates'} ({reach})"
    return f"sent no {getattr(rule, 'table', 'data')} for {days}"


def _threshold(values: Any) -> float | None:
    """Return the threshold recorded in a reminder's last values, if any."""
    try:
        found = json.loads(values).get("threshold") if isinstance(values, str) else None
    except ValueError:
        return None
    return float(found) if isinstance(found, int | float) else None


def reminder_lines(
    connection: Any, config: AlertConfig, model_name: str, owner: str
) -> list[dict[str, Any]]:
    """Return the owner's open reminders, one entry per rule: count, text, first accounts."""
    frame = connection.execute(
        "SELECT rule, account_id, account_name, last_values FROM reminders WHERE model_name = ? "
        "AND owner = ? AND resolved_date IS NULL ORDER BY rule, account_name, account_id",
        [model_name, owner],
    ).df()
    lines: list[dict[str, Any]] = []
    for rule_name, group in frame.groupby("rule", sort=True):
        rule = config.rules.get(str(rule_name))
        if rule is None:
            continue
        names = [
            str(n) if isinstance(n, str) else str(a)
            for n, a in zip(group["account_name"], group["account_id"], strict=True)
        ]
        more = len(names) - SHOWN
        listed = ", ".join(names[:SHOWN]) + (f" and {more} more" if more > 0 else "")
        count = len(names)
        noun = "account" if count == 1 else "accounts"
        verb = _what(rule, count, _threshold(group["last_values"].iloc[0]))
        lines.append(
            {
                "rule": str(rule_name),
                "kind": kind_of(rule),
                "severity": rule.severity,
                "count": count,
                "account_ids": list(group["account_id"].astype(str)),
                "text": f"{count} {noun} {verb}: {listed}",
            }
        )
    return lines


def reminder_owners(connection: Any, model_name: str) -> set[str]:
    """Return the owners who have open reminders."""
    rows = connection.execute(
        "SELECT DISTINCT owner FROM reminders WHERE model_name = ? AND resolved_date IS NULL "
        "AND owner IS NOT NULL",
        [model_name],
    ).fetchall()
    return {str(r[0]) for r in rows}
