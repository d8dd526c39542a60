"""The console channel: print alerts and digests to the terminal running `vitalsign run`."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from vitalsign.alerts.channels.base import Message
from vitalsign.alerts.messages import alert_lines, digest_lines

STYLES = {"critical": "red", "warning": "yellow", "info": "blue"}


class ConsoleChannel:
    """Prints each message as a panel."""

    name = "console"

    def __init__(self, console: Console | None = None, width: int = 100) -> None:
        self.console = console or Console(width=width)

    def send(self, message: Message) -> None:
        """Print the message."""
        if message.kind == "digest":
            lines, style = digest_lines(message.payload["digest"]), "cyan"
        elif message.kind == "review":  # alerts/review_reminder.py
            lines, style = list(message.payload["review"]["lines"]), "magenta"
        else:
            alert = message.payload["alert"]
            lines, style = alert_lines(alert), STYLES.get(alert["severity"], "white")
        self.console.print(
            Panel(
                Text("\n".join(lines)),
                title=Text(message.subject),
                title_align="left",
                border_style=style,
            )
        )
