"""Per-thread `sys.stdout`/`stderr`/`stdin` for relayed commands, and their terminal's width.

A command relayed into `vitalsign serve` (web/relay_server.py) runs on a thread of the server
beside the pages; what it prints must reach the terminal that sent it, not the server's log,
and Rich must lay its tables out for that terminal's width.
"""

from __future__ import annotations

import io
import socket
import threading
from typing import Any

from vitalsign.web.relay import send_frame


class SocketStream(io.TextIOBase):
    """A text stream whose writes go to the relay client as frames of one kind."""

    def __init__(self, sock: socket.socket, kind: str, lock: threading.Lock) -> None:
        self._sock = sock
        self._kind = kind
        self._lock = lock
        self.gone = False
        self.kept: list[str] | None = None  # a list: what is written, for a job's job_runs row

    def writable(self) -> bool:
        """Always: this is an output stream."""
        return True

    def isatty(self) -> bool:
        """Never a terminal: no colour codes or live redraws go over the socket."""
        return False

    def write(self, text: str) -> int:
        """Send `text`; a client that went away no longer gets it (the command carries on)."""
        if not isinstance(text, str):  # click probes with b"" whether a stream is binary
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.kept is not None:
            self.kept.append(text)
        if text and not self.gone:
            with self._lock:
                try:
                    send_frame(self._sock, {self._kind: text})
                except OSError:
                    self.gone = True
        return len(text)


class ThreadStreams:
    """`sys.stdout` (or stderr, stdin) that a thread can point elsewhere; others see `default`."""

    def __init__(self, default: Any) -> None:
        self._default = default
        self._local = threading.local()

    @property
    def default(self) -> Any:
        """The process's own stream (the server's log), whichever thread asks."""
        return self._default

    @property
    def target(self) -> Any:
        """The stream of the calling thread."""
        return getattr(self._local, "stream", None) or self._default

    def route(self, stream: Any) -> None:
        """Send the calling thread's output to `stream` (None: back to the default)."""
        self._local.stream = stream

    def write(self, text: str) -> int:
        """Write to the calling thread's stream."""
        written: int = self.target.write(text)
        return written

    def readline(self, size: int | None = -1) -> str:
        """Read from the calling thread's stream (stdin)."""
        line: str = self.target.readline(-1 if size is None else size)
        return line

    def flush(self) -> None:
        """Flush the calling thread's stream."""
        self.target.flush()

    def isatty(self) -> bool:
        """Whether the calling thread's stream is a terminal."""
        return bool(self.target.isatty())

    def fileno(self) -> int:
        """The calling thread's stream's descriptor (a socket stream has none)."""
        number: int = self.target.fileno()
        return number

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


_install_lock = threading.Lock()


def routed(name: str) -> ThreadStreams:
    """The process's `sys.<name>` as a ThreadStreams (installed once)."""
    import sys

    with _install_lock:
        current = getattr(sys, name)
        if not isinstance(current, ThreadStreams):
            current = ThreadStreams(current)
            setattr(sys, name, current)
        return current


client = threading.local()
"""Per relayed command thread: `columns`, the width of the terminal that sent the command."""


def install_client_width() -> None:
    """Make Rich consoles printing on a relayed command's thread as wide as its terminal.

    Rich works a console's width out from the process's own terminal and $COLUMNS, which are
    the server's; a console given an explicit `width=` keeps it.
    """
    from rich.console import Console, ConsoleDimensions

    with _install_lock:
        if getattr(Console, "_vitalsign_client_width", False):
            return
        size: Any = Console.__dict__["size"]  # the property itself
        init = Console.__init__

        def own_init(self: Console, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            self._vitalsign_fixed_width = kwargs.get("width") is not None  # type: ignore[attr-defined]

        def client_size(self: Console) -> ConsoleDimensions:
            dimensions: ConsoleDimensions = size.fget(self)
            columns = getattr(client, "columns", None)
            if columns is None or getattr(self, "_vitalsign_fixed_width", False):
                return dimensions
            return ConsoleDimensions(columns, dimensions.height)

        setattr(Console, "__init__", own_init)  # noqa: B010
        setattr(Console, "size", property(client_size, size.fset))  # noqa: B010
        setattr(Console, "_vitalsign_client_width", True)  # noqa: B010


def client_columns(request: Any) -> int | None:
    """The client's terminal width from its request (None: an older client sent none)."""
    value = request.get("columns") if isinstance(request, dict) else None
    return value if isinstance(value, int) and 20 <= value <= 1000 else None
