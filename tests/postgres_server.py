"""A real PostgreSQL server for tests, started from the Debian binaries on a free port."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_postgres(bindir: Path) -> Iterator[str]:
    """Start a throwaway server (trust auth, no fsync); yield its URL; stop and remove it."""
    root = Path(tempfile.mkdtemp(prefix="vitalsign-pg-"))
    data, port = root / "data", _free_port()
    shutil.chown(root, "postgres", "postgres")
    run_as = ["runuser", "-u", "postgres", "--"]
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    subprocess.run([*run_as, *initdb, "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o"]
    subprocess.run([*run_as, *start, options, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run([*run_as, *stop], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
