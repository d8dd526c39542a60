"""Delivery channels: console, e-mail (SMTP), Slack (incoming webhook), signed webhooks."""

from __future__ import annotations

from rich.console import Console

from vitalsign.alerts.channels.base import Channel, DeliveryError, Message
from vitalsign.alerts.channels.console import ConsoleChannel
from vitalsign.alerts.channels.email import EmailChannel
from vitalsign.alerts.channels.slack import SlackChannel
from vitalsign.alerts.channels.webhook import WebhookChannel, sign, verify_signature
from vitalsign.alerts.config import Channels

__all__ = [
    "Channel",
    "ConsoleChannel",
    "DeliveryError",
    "EmailChannel",
    "Message",
    "SlackChannel",
    "WebhookChannel",
    "build_channels",
    "sign",
    "verify_signature",
]


def build_channels(config: Channels, console: Console | None = None) -> dict[str, Channel]:
    """Return the configured channels by name."""
    channels: dict[str, Channel] = {}
    if config.console is not None:
        channels["console"] = ConsoleChannel(console, config.console.width)
    if config.email is not None:
        channels["email"] = EmailChannel(config.email)
    if config.slack is not None:
        channels["slack"] = SlackChannel(config.slack)
    if config.webhook is not None:
        channels["webhook"] = WebhookChannel(config.webhook)
    return channels
