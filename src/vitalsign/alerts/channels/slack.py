"""The Slack channel: Block Kit messages posted to an incoming webhook."""

from __future__ import annotations

from typing import Any

import httpx

from vitalsign.alerts.channels.base import DeliveryError, Message, check_answer
from vitalsign.alerts.config import SlackChannel as SlackConfig
from vitalsign.alerts.messages import band_label, override_text

EMOJI = {
    "critical": ":red_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":information_source:",
}
MAX_TEXT = 2900  # Slack rejects section texts over 3000 characters
MAX_ROWS = 15


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _alert_row(a: dict[str, Any]) -> str:
    band = band_label(a.get("band"), a.get("computed_band"))
    name = a.get("account_name") or a["account_id"]
    return f"{EMOJI.get(a['severity'], '')} *{name}* ({band}): {a['summary']}"


def alert_blocks(message: Message) -> list[dict[str, Any]]:
    """Return the Block Kit blocks of one alert."""
    a = message.payload["alert"]
    fields = [
        f"*Account*\n{a.get('account_name') or ''} ({a['account_id']})",
        f"*Owner*\n{message.recipient}",
        f"*Score*\n{'—' if a.get('score') is None else format(a['score'], '.1f')}",
        f"*Band*\n{band_label(a.get('band'), a.get('computed_band'))}",
        f"*Rule*\n{a['rule']} ({a['severity']})",
        f"*Snapshot*\n{a['snapshot_date']}",
    ]
    blocks: list[dict[str, Any]] = [
        _header(f"{a['severity'].upper()}: {a.get('account_name') or a['account_id']}"),
        _section(f"{EMOJI.get(a['severity'], '')} {a['summary']}"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    task = a.get("task")
    if task:
        steps = "\n".join(f"• {s}" for s in task.get("steps", []))
        blocks.append(
            _section(f"*Task:* {task['title']} (due {task['due_date']})\n{steps}".rstrip())
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"model {a['model_name']} ({a['model_hash']}) · alert {a['alert_id']}"
                    f" · `vitalsign explain {a['account_id']} --as-of {a['snapshot_date']}`",
                }
            ],
        }
    )
    return blocks


def digest_blocks(message: Message) -> list[dict[str, Any]]:
    """Return the Block Kit blocks of a digest."""
    d = message.payload["digest"]
    blocks: list[dict[str, Any]] = [_header(f"{d['frequency'].title()} digest for {d['owner']}")]
    blocks.append(
        _section(f"As of {d['as_of']}" + (f", since {d['since']}" if d.get("since") else ""))
    )
    for key, title in (("new", "New alerts"), ("open", "Still open"), ("resolved", "Resolved")):
        rows = [_alert_row(a) for a in d[key][:MAX_ROWS]]
        more = len(d[key]) - MAX_ROWS
        text = "\n".join(rows) + (f"\n… and {more} more" if more > 0 else "")
        blocks.append(_section(f"*{title} ({len(d[key])})*\n{text or 'none'}"))
    tasks = [
        f"• {t['title']} — due {t['due_date']}{' *OVERDUE*' if t.get('overdue') else ''}"
        for t in d["tasks"][:MAX_ROWS]
    ]
    blocks.append(_section(f"*Open tasks ({len(d['tasks'])})*\n" + ("\n".join(tasks) or "none")))
    if d.get("overrides"):
        rows = [f"• {override_text(o)}" for o in d["overrides"][:MAX_ROWS]]
        blocks.append(_section(f"*Overrides in force ({len(d['overrides'])})*\n" + "\n".join(rows)))
    for kind, heading in (("opportunity", "Opportunities"), ("reminder", "Reminders")):
        lines = [r for r in d.get("reminders") or [] if r.get("kind", "reminder") == kind]
        if lines:
            rows = [f"• {r['text']}" for r in lines[:MAX_ROWS]]
            blocks.append(_section(f"*{heading}*\n" + "\n".join(rows)))
    return blocks


def slack_payload(message: Message) -> dict[str, Any]:
    """Return the JSON body posted to the webhook: fallback text and blocks."""
    if message.kind == "review":  # alerts/review_reminder.py
        lines = message.payload["review"]["lines"]
        blocks = [_header(message.subject), _section("\n".join(lines))]
    else:
        blocks = alert_blocks(message) if message.kind == "alert" else digest_blocks(message)
    return {"text": message.subject, "blocks": blocks}


class SlackChannel:
    """Posts each message to the configured incoming webhook."""

    name = "slack"

    def __init__(self, config: SlackConfig) -> None:
        self.config = config

    def send(self, message: Message) -> None:
        """Post the message; only a 2xx is delivered; network errors and 5xx are retried."""
        try:
            response = httpx.post(
                self.config.webhook_url,
                json=slack_payload(message),
                headers={"Idempotency-Key": message.message_id},
                timeout=self.config.timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Slack webhook: {type(exc).__name__}: {exc}") from exc
        check_answer("slack", response)
