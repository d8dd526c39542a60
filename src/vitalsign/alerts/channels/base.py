"""What every delivery channel is: something that sends one outbox message or raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx


@dataclass(frozen=True)
class Message:
    """One message of the outbox as a channel sees it."""

    message_id: str
    channel: str
    recipient: str
    kind: str  # "alert", "digest" or "review" (the review reminder)
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


def check_answer(channel: str, response: httpx.Response) -> None:
    """Return when the answer is a 2xx (delivered); raise DeliveryError for anything else.

    A redirect is a permanent failure, never followed: the message would reach another
    address (maybe another host) than the one configured, and a 307 or 308 asks for the
    signed body to be sent again there. The error names where it pointed, so the channel's
    URL can be fixed and the message requeued.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
        target = response.headers.get("Location")
        if target is not None:
            target = str(response.url.join(target))
        where = f"to {target}" if target else "without a Location"
        raise DeliveryError(
            f"{channel} answered {status} {reason} {where}; redirects are not followed: set "
            "the channel's URL in alerts.yml to the final address, then requeue with "
            "`vitalsign alerts outbox --retry`",
            permanent=True,
        )
    if status >= 400:
        raise http_failure(status, response.text)
    raise DeliveryError(f"{channel} answered {status}, not a 2xx: not delivered")
