"""Real local receivers for delivery tests: an HTTP server and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Received:
    """One HTTP request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """A threaded HTTP server recording every POST; `status` is the reply code.

    With `location` set, the reply carries that Location header (for redirect statuses).
    """

    port: int = field(default_factory=free_port)
    status: int = 200
    location: str | None = None
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> HttpReceiver:
        """Listen on the port and serve in a thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                if receiver.location is not None:
                    self.send_header("Location", receiver.location)
                if receiver.status in (204, 304):
                    self.end_headers()  # no body allowed
                    return
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Recorder:
    def __init__(self, refuse: frozenset[str] = frozenset(), data_reply: str | None = None):
        self.messages: list[tuple[str, list[str], Message]] = []
        self.refuse = refuse
        self.data_reply = data_reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 <" + address + ">: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 recording every message it accepts.

    Recipients in `refuse` are answered 550; `data_reply` (e.g. "554 ...") replaces the
    acceptance of every message.
    """

    def __init__(self, refuse: frozenset[str] = frozenset(), data_reply: str | None = None):
        self.port = free_port()
        self._recorder = _Recorder(refuse, data_reply)
        self._controller = Controller(self._recorder, hostname=HOST, port=self.port)

    @property
    def messages(self) -> list[tuple[str, list[str], Message]]:
        """(sender, recipients, parsed message) of every message received."""
        return self._recorder.messages

    def start(self) -> SmtpReceiver:
        """Start the server thread."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        self._controller.stop()
