"""A real OpenID provider for tests: the npm package oidc-provider, run under the machine's Node.

`install_oidc_provider` runs `npm ci` from tests/fixtures/oidc (package.json pins the version,
package-lock.json the rest) into a cache folder outside the checkout, once: later runs find it
there. `running_oidc_provider` starts tests/fixtures/oidc/provider.mjs on a free port with a
client and accounts, waits for its discovery document, and stops it afterwards.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FIXTURE = Path(__file__).parent / "fixtures" / "oidc"
VERSION = json.loads((FIXTURE / "package.json").read_text())["dependencies"]["oidc-provider"]
CACHE_ENV = "VITALSIGN_TEST_CACHE"


def node_missing() -> str | None:
    """Why the provider cannot run here (no node or npm), or None."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run scripts/install-system-deps.sh)"
    return None


def cache_dir() -> Path:
    """Where the installed provider is kept between runs ($VITALSIGN_TEST_CACHE or ~/.cache)."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "vitalsign-tests"
    )
    return Path(base) / f"oidc-provider-{VERSION}"


def install_oidc_provider() -> Path:
    """Install oidc-provider (pinned) into the cache once; return its package folder."""
    root = cache_dir()
    package = root / "node_modules" / "oidc-provider"
    lock = (FIXTURE / "package-lock.json").read_text()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two test runs at once install it once
        stamp = root / ".installed-lock.json"
        if package.is_dir() and stamp.exists() and stamp.read_text() == lock:
            return package
        shutil.copy(FIXTURE / "package.json", root / "package.json")
        (root / "package-lock.json").write_text(lock)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=root,
            check=True,
            capture_output=True,
            timeout=300,
        )
        stamp.write_text(lock)
    return package


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class OidcProvider:
    """A started provider: its issuer URL and the client registered at it."""

    issuer: str
    client_id: str
    client_secret: str


@contextmanager
def running_oidc_provider(
    client: dict[str, Any], accounts: dict[str, dict[str, Any]], port: int | None = None
) -> Iterator[OidcProvider]:
    """Start provider.mjs with `client` and `accounts`; yield it once it answers; stop it."""
    package = install_oidc_provider()
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp(prefix="vitalsign-oidc-"))
    config = {
        "port": port,
        "issuer": issuer,
        "module": str(package / "lib" / "index.js"),
        "client": client,
        "accounts": accounts,
    }
    (folder / "config.json").write_text(json.dumps(config))
    log = open(folder / "provider.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        ["node", str(FIXTURE / "provider.mjs"), str(folder / "config.json")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(issuer, process, folder / "provider.log")
        yield OidcProvider(issuer, client["client_id"], client["client_secret"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(issuer: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"oidc-provider exited: {log.read_text()}")
        try:
            if httpx.get(issuer + "/.well-known/openid-configuration", timeout=2).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"oidc-provider did not answer within 30 s: {log.read_text()}")
