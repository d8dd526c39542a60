"""The generic webhook channel: JSON POSTs signed with HMAC-SHA256.

Each request carries:

- `X-Vitalsign-Id` and `Idempotency-Key`: the outbox message id; a retry of the same
  message carries the same id, so a receiver that remembers ids processes it once;
- `X-Vitalsign-Timestamp`: Unix seconds when the request was signed;
- `X-Vitalsign-Signature`: `sha256=` + hex HMAC-SHA256 of `{timestamp}.{body}` with the
  shared secret. Receivers recompute it over the raw body and compare in constant time,
  and reject timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from vitalsign.alerts.channels.base import DeliveryError, Message, check_answer
from vitalsign.alerts.config import WebhookChannel as WebhookConfig

SIGNATURE_HEADER = "X-Vitalsign-Signature"
TIMESTAMP_HEADER = "X-Vitalsign-Timestamp"
ID_HEADER = "X-Vitalsign-Id"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value of a body signed at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """Return whether a received request was signed with `secret` recently (for receivers).

    >>> verify_signature("s" * 32, request.headers, request.body)  # doctest: +SKIP
    True
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered.get(TIMESTAMP_HEADER.lower(), ""))
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected, lowered.get(SIGNATURE_HEADER.lower(), ""))


def webhook_body(message: Message) -> bytes:
    """Return the JSON body of a message: id, type and the alert or digest."""
    document: dict[str, Any] = {"id": message.message_id, "type": message.kind}
    document.update(message.payload)
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class WebhookChannel:
    """POSTs each message to the configured URL with an HMAC-SHA256 signature."""

    name = "webhook"

    def __init__(self, config: WebhookConfig, clock: Any = time.time) -> None:
        self.config = config
        self.clock = clock

    def send(self, message: Message) -> None:
        """POST the signed message; only a 2xx is delivered; network errors and 5xx are retried."""
        body = webhook_body(message)
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vitalsign-webhook/1",
            ID_HEADER: message.message_id,
            "Idempotency-Key": message.message_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.config.secret, timestamp, body),
        }
        try:
            response = httpx.post(
                self.config.url,
                content=body,
                headers=headers,
                timeout=self.config.timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {self.config.url}: {type(exc).__name__}: {exc}") from exc
        check_answer("webhook", response)
