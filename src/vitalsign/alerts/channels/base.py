"""What every delivery channel is: something that sends one outbox message or raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """One message of the outbox as a channel sees it."""

    message_id: str
    channel: str
    recipient: str
    kind: str  # "alert" or "digest"
    subject: str
    payload: dict[str, Any]


class DeliveryError(Exception):
    """A channel could not deliver a message; `permanent` when retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    """Sends one message; raises DeliveryError when it cannot."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver `message` or raise DeliveryError."""
        ...


def http_failure(status: int, body: str) -> DeliveryError:
    """Return the DeliveryError of an HTTP error status (4xx other than 408/429: permanent)."""
    permanent = 400 <= status < 500 and status not in (408, 425, 429)
    return DeliveryError(f"HTTP {status}: {body[:200]}", permanent=permanent)
