"""The server side of the command relay: run CLI commands sent by `vitalsign` in this process.

`vitalsign serve` holds the workspace's DuckDB file (one writing process per file), so a
command started in a terminal cannot open it. Instead it connects to the socket this module
listens on (web/relay.py) and the command runs here, on its own thread, sharing the open
database with the pages and the scheduled job: DuckDB's transactions keep each writer's
work whole, and a page reads the result on its next request (the serving cache and the
sign-in cache follow the versions they already check). What the command prints goes back
to the terminal that started it: `sys.stdout` and `sys.stderr` are routed per thread.
`vitalsign run` and `vitalsign sync` go through the server's job runner (web/jobs.py), as the
browser's "Run now" and the schedule do: they wait for the job in progress, saying which, and
each is a row of `job_runs` (trigger "cli", started by the peer's OS user).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pwd
import socket
import struct
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from vitalsign.web.relay import NOT_RELAYED, frames, send_frame, socket_name
from vitalsign.web.relay_output import job_outcome
from vitalsign.web.relay_streams import (
    SocketStream,
    client,
    client_columns,
    install_client_width,
    routed,
)

if TYPE_CHECKING:
    from vitalsign.web.jobs import JobRun, JobRunner

log = logging.getLogger("vitalsign.web")
RELAYED_JOBS = {"run": "daily", "sync": "sync"}
"""Commands that run as a job of the server's runner (one job at a time, in job_runs)."""


def _peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def os_user(uid: int) -> str:
    """The login name of user id `uid`, or "cli" when the system does not know it."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "cli"


RERUN_ON_CONFLICT = frozenset({"backfill", "score", "ingest", "sync", "derive-outcomes"})
"""Commands that may simply run again after losing a write conflict: each of their
transactions rewrites what it computes (a date's snapshot, a file's rows), so a second run
ends where one undisturbed run would. Others (an override, a user) say so and stop."""
RERUN_DELAYS = (0.5, 2.0, 5.0, 10.0, 20.0)


def run_command(argv: list[str]) -> int:
    """Run a command line as `main()` would, again after a write conflict when it may."""
    import sys

    delays = list(RERUN_DELAYS) if argv and argv[0] in RERUN_ON_CONFLICT else []
    while True:
        code, conflict = _run_once(argv)
        if conflict is None:
            return code
        if not delays:
            sys.stderr.write(
                f"error: another writer changed the same rows at the same moment ({conflict}); "
                "the step that lost was rolled back. Run the command again.\n"
            )
            return 1
        delay = delays.pop(0)
        sys.stderr.write(
            f"note: another writer changed the same rows at the same moment ({conflict}); "
            f"running `vitalsign {argv[0]}` again in {delay:g} s\n"
        )
        time.sleep(delay)


def _run_once(argv: list[str]) -> tuple[int, str | None]:
    """Run the command once: its exit code, and the write conflict that stopped it if any."""
    import sys

    import duckdb

    from vitalsign.cli import app
    from vitalsign.errors import VitalsignError, WriteConflictError
    from vitalsign.store.conflicts import is_write_conflict

    try:
        app(args=argv, prog_name="vitalsign", standalone_mode=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0), None
        sys.stderr.write(f"{exc.code}\n")
        return 1, None
    except WriteConflictError as exc:
        return 1, str(exc)
    except VitalsignError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1, None
    except duckdb.TransactionException as exc:
        if not is_write_conflict(exc):
            log.exception("relayed command %s failed", argv[:2])
            sys.stderr.write(traceback.format_exc())
            return 1, None
        return 1, str(exc)
    except Exception:  # a bug: its traceback goes to the terminal and the server's log
        log.exception("relayed command %s failed", argv[:2])
        sys.stderr.write(traceback.format_exc())
        return 1, None
    return 0, None


class CommandRelay:
    """Listens for `vitalsign` commands on the workspace's socket and runs each on a thread."""

    def __init__(self, root: Path, jobs: JobRunner | None = None) -> None:
        self.root = root
        self.jobs = jobs  # `run` and `sync` go through it; without one they run as others do
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.running: set[threading.Thread] = set()

    def start(self) -> bool:
        """Start listening; False (and a warning) when another server has the name."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(socket_name(self.root))
        except OSError as exc:
            sock.close()
            log.warning("command relay not started for %s: %s", self.root, exc)
            return False
        sock.listen(16)
        self._sock = sock
        for name in ("stdout", "stderr", "stdin"):
            routed(name)
        install_client_width()
        self._thread = threading.Thread(target=self._accept, name="command-relay", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop listening (commands still running finish)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):  # not connected: closing is enough
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None

    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # stopped
            worker = threading.Thread(
                target=self._serve, args=(conn,), name="relayed-command", daemon=True
            )
            self.running.add(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        import sys

        lock = threading.Lock()
        try:
            with conn:
                uid = _peer_uid(conn)
                if uid != os.getuid():
                    send_frame(
                        conn, {"err": "error: only the server's own user may run commands\n"}
                    )
                    send_frame(conn, {"exit": 1})
                    return
                request = next(frames(conn), None)
                argv = request.get("argv") if isinstance(request, dict) else None
                if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
                    send_frame(conn, {"err": "error: not a command\n"})
                    send_frame(conn, {"exit": 2})
                    return
                if argv and argv[0] in NOT_RELAYED:
                    message = f"error: `vitalsign {argv[0]}` cannot run while the server runs\n"
                    send_frame(conn, {"err": message})
                    send_frame(conn, {"exit": 1})
                    return
                out = SocketStream(conn, "out", lock)
                err = SocketStream(conn, "err", lock)
                streams = [routed("stdout"), routed("stderr"), routed("stdin")]
                for thread_stream, stream in zip(streams, (out, err, io.StringIO()), strict=True):
                    thread_stream.route(stream)
                log.info("relayed command: vitalsign %s", " ".join(argv[:2]))
                client.columns = client_columns(request)
                try:
                    job = RELAYED_JOBS.get(argv[0]) if argv and "--help" not in argv else None
                    if job is not None and self.jobs is not None:
                        code = self._run_as_job(job, argv, os_user(uid), out, err)
                    else:
                        code = run_command(argv)
                    sys.stdout.flush()
                finally:
                    client.columns = None
                    for thread_stream in streams:
                        thread_stream.route(None)
                with lock:
                    send_frame(conn, {"exit": code})
        except OSError as exc:  # the client went away: the command's work is done or rolled back
            log.warning("relayed command: connection lost: %s", exc)
        finally:
            self.running.discard(threading.current_thread())

    def _run_as_job(
        self, job: str, argv: list[str], by: str, out: SocketStream, err: SocketStream
    ) -> int:
        """Run a `run` or `sync` command as a job of the runner: queued, recorded, logged."""
        import sys

        assert self.jobs is not None
        codes: list[int] = []

        def work() -> tuple[bool, str, str | None]:
            out.kept, err.kept = [], []  # from here: what it printed while it waited is not kept
            code = run_command(argv)
            sys.stdout.flush()
            codes.append(code)
            return job_outcome(argv, code, "".join(out.kept), "".join(err.kept))

        def waiting(running: JobRun | None) -> None:
            from vitalsign.web.jobs import describe_run

            what = f"the {describe_run(running)} ({running.trigger})" if running else "a job"
            sys.stderr.write(
                f"note: the server runs one job at a time: `vitalsign {argv[0]}` waits for "
                f"{what} to finish, then runs (/admin/jobs shows both)\n"
            )
            sys.stderr.flush()

        finished = self.jobs.run(job, by, "cli", work=work, waiting=waiting)
        return codes[0] if codes else (0 if finished.status == "ok" else 1)
