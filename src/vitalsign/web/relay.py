"""Hand a CLI command to the `vitalsign serve` holding its workspace, and print its answer.

DuckDB lets one process open a database file for writing, so while `vitalsign serve` runs
no other process can open the workspace. The server therefore listens on a local socket
(web/relay_server.py) and runs the commands sent to it in its own process, where they share
the database with the pages and the scheduled job like any other in-process writer
(docs/workspace.md, "Server and CLI side by side"). This module is the client side: `main()`
in cli.py calls `forward_if_served` first; it imports nothing heavy, so a CLI without a
server starts as fast as before.

The socket is in Linux's abstract namespace (no file to leave behind), named after the
workspace folder; the server answers only processes of its own user (SO_PEERCRED).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

CONFIG_FILE = "vitalsign.yml"
NOT_RELAYED = frozenset({"serve", "schedule", "demo", "init"})
"""Commands that never go to a server: they hold or replace a workspace themselves."""
FILE_SUFFIXES = frozenset(
    {".html", ".htm", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".yml", ".yaml"}
    | {".parquet", ".txt", ".md", ".png", ".svg", ".xlsx", ".gz", ".zip", ".sql", ".log"}
)
"""Suffixes of output files named relative to the current folder (made absolute)."""


def socket_name(root: Path) -> bytes:
    """The abstract socket name of the server of the workspace folder `root` (resolved)."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
    return b"\0vitalsign/" + digest.encode()


def workspace_root(argv: Sequence[str], environ: dict[str, str] | None = None) -> Path:
    """The workspace folder a command line names (-w/--workspace, VITALSIGN_WORKSPACE, .)."""
    env = os.environ if environ is None else environ
    for i, token in enumerate(argv):
        if token in ("-w", "--workspace") and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if token.startswith("--workspace="):
            return Path(token.split("=", 1)[1]).resolve()
    return Path(env.get("VITALSIGN_WORKSPACE", ".")).resolve()


def _leaf(argv: Sequence[str]) -> Any:
    """The click command the arguments name (a group's subcommand), or None."""
    import typer.main

    from vitalsign.cli import app

    command: Any = typer.main.get_command(app)
    for token in argv:
        children = getattr(command, "commands", None)
        if children is None:
            break
        if token.startswith("-"):
            continue
        if token not in children:
            return None
        command = children[token]
    return None if getattr(command, "commands", None) is not None else command


def _absolute(token: str, cwd: Path) -> str:
    """`token` as an absolute path when it names a file or folder relative to `cwd`."""
    if not token or token.startswith("-") or os.path.isabs(token) or "\n" in token:
        return token
    candidate = cwd / token
    if candidate.exists():
        return str(candidate)
    looks_like_file = Path(token).suffix.lower() in FILE_SUFFIXES
    if looks_like_file and candidate.parent.is_dir():
        return str(candidate)  # an output file to create, e.g. --html backtest.html
    return token


def relayed_argv(argv: Sequence[str], root: Path, cwd: Path, leaf: Any) -> list[str]:
    """The arguments as the server must read them: paths absolute, the workspace named.

    Options that prompt (a password) are asked here, in the user's terminal.
    """
    out: list[str] = []
    for token in argv:
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
            out.append(f"{name}={_absolute(value, cwd)}")
        else:
            out.append(_absolute(token, cwd))
    params = getattr(leaf, "params", [])
    names = {p.name for p in params}
    given = {t.split("=", 1)[0] for t in argv if t.startswith("-")}
    if "--help" in argv:
        return out
    for param in params:
        prompt = getattr(param, "prompt", None)
        if not prompt or given & set(param.opts):
            continue
        if param.envvar and os.environ.get(param.envvar):
            out += [param.opts[0], os.environ[param.envvar]]
            continue
        import typer

        value = typer.prompt(
            prompt,
            hide_input=bool(getattr(param, "hide_input", False)),
            confirmation_prompt=bool(getattr(param, "confirmation_prompt", False)),
        )
        out += [param.opts[0], str(value)]
    if "workspace" in names and not given & {"-w", "--workspace"}:
        out += ["--workspace", str(root)]
    return out


def client_columns(environ: dict[str, str] | None = None) -> int:
    """The width a console of this terminal has, as Rich works it out: $COLUMNS, else the tty."""
    env = os.environ if environ is None else environ
    text = env.get("COLUMNS", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    for descriptor in (0, 1, 2):
        try:
            return os.get_terminal_size(descriptor).columns or 80
        except OSError:
            continue
    return 80


def connect(root: Path, timeout: float = 2.0) -> socket.socket | None:
    """A connection to the server of workspace `root`, or None when none listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_name(root))
    except OSError:
        sock.close()
        return None
    sock.settimeout(None)
    return sock


def frames(sock: socket.socket) -> Iterator[dict[str, Any]]:
    """The JSON lines a peer sends, one dict each, until it closes."""
    reader = sock.makefile("r", encoding="utf-8", newline="\n")
    for line in reader:
        if line.strip():
            yield json.loads(line)


def send_frame(sock: socket.socket, frame: dict[str, Any]) -> None:
    """Send one JSON line."""
    sock.sendall((json.dumps(frame) + "\n").encode("utf-8"))


def forward_if_served(
    argv: Sequence[str], stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int | None:
    """Run the command in the server holding its workspace; its exit code, or None if none.

    None means: no server holds the workspace (or the command is one a server never runs),
    so the caller runs the command itself.
    """
    if not argv or argv[0] in NOT_RELAYED or argv[0].startswith("-"):
        return None
    root = workspace_root(argv)
    if not (root / CONFIG_FILE).exists():
        return None
    sock = connect(root)
    if sock is None:
        return None
    out, err = stdout or sys.stdout, stderr or sys.stderr
    with sock:
        leaf = _leaf(argv)
        request = {
            "argv": relayed_argv(argv, root, Path.cwd(), leaf),
            "user": getpass.getuser(),
            "columns": client_columns(),  # the server's console prints at this width
        }
        send_frame(sock, request)
        for frame in frames(sock):
            if "out" in frame:
                out.write(frame["out"])
                out.flush()
            elif "err" in frame:
                err.write(frame["err"])
                err.flush()
            elif "exit" in frame:
                return int(frame["exit"])
    err.write("error: the server closed the connection before the command finished\n")
    return 1
