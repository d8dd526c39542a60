"""The e-mail channel: one message per alert or digest, over SMTP with smtplib."""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from vitalsign.alerts.channels.base import DeliveryError, Message
from vitalsign.alerts.config import EmailChannel as EmailConfig
from vitalsign.alerts.messages import alert_lines, digest_lines


def build_email(message: Message, sender: str) -> EmailMessage:
    """Return the e-mail of an outbox message: plain text with an HTML alternative."""
    if message.kind == "digest":
        lines = digest_lines(message.payload["digest"])
    elif message.kind == "review":  # alerts/review_reminder.py
        lines = list(message.payload["review"]["lines"])
    else:
        lines = alert_lines(message.payload["alert"])
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = sender
    email["To"] = message.recipient
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = f"<{message.message_id}@vitalsign>"
    email["X-Vitalsign-Id"] = message.message_id
    email.set_content("\n".join(lines) + "\n")
    body = "".join(
        f"<li>{html.escape(line[2:])}</li>"
        if line.startswith("- ")
        else f"<p>{html.escape(line)}</p>"
        for line in lines
        if line
    )
    email.add_alternative(
        f"<html><body><h3>{html.escape(message.subject)}</h3>{body}</body></html>", subtype="html"
    )
    return email


class EmailChannel:
    """Sends each message to its recipient's address through the configured SMTP server."""

    name = "email"

    def __init__(self, config: EmailConfig) -> None:
        self.config = config

    def send(self, message: Message) -> None:
        """Send the message; delivered only when the server accepts it for every recipient.

        A 5xx answer (recipient, sender or message refused) is permanent; a 4xx answer and
        connection problems are retried.
        """
        c = self.config
        email = build_email(message, c.sender)
        try:
            if c.ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    smtp.login(c.username, c.password or "")
                refused = smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused(exc.recipients) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login failed: {_answer(exc)}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {c.host}:{c.port} refused the message: {_answer(exc)}",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {c.host}:{c.port}: {exc}") from exc
        if refused:
            raise _refused(refused)


def _answer(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}"


def _refused(recipients: dict[str, tuple[int, bytes]]) -> DeliveryError:
    """The error of recipients the server refused; permanent unless every refusal is 4xx."""
    parts = [
        f"{address}: {code} {reply.decode('utf-8', 'replace')}"
        for address, (code, reply) in sorted(recipients.items())
    ]
    permanent = any(code >= 500 for code, _ in recipients.values())
    return DeliveryError("SMTP server refused recipient " + "; ".join(parts), permanent=permanent)
