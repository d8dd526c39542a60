"""Writers for `bench/web.py --with-writers`: the CLI and web users writing while pages load.

While the 20 clients load the account page, this runs, each on its own thread and at once:
a CLI `backfill` of the last weeks (re-scoring every account of each date, relayed to the
server: docs/workspace.md), a CLI `ingest` of new tickets, CLI `users add`, and overrides
through the REST API. Afterwards `check` reads the workspace back through the server and
counts each write: every ticket, user and override must be there exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `vitalsign ARGS -w ROOT` as its own process (the server runs it)."""
    command = [sys.executable, "-m", "vitalsign", *args, "-w", str(root)]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=3600)


@dataclass
class Writers:
    """The writers of one benchmark run and what they did."""

    root: Path
    url: str
    admin_token: str
    accounts: int
    last_date: dt.date
    weeks: int = 4
    tickets: int = 500
    users: int = 3
    overrides: int = 20
    run_id: str = field(default_factory=lambda: f"w{int(time.time())}")
    conflicts: int = 0  # web overrides answered 409 (another writer) and sent again
    seconds: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start every writer on its own thread."""
        jobs = {
            "backfill": self._backfill,
            "ingest": self._ingest,
            "users add": self._users,
            "web overrides": self._overrides,
        }
        for name, job in jobs.items():
            thread = threading.Thread(target=self._timed, args=(name, job), daemon=True)
            self._threads.append(thread)
            thread.start()

    def running(self) -> bool:
        """Whether any writer is still at work."""
        return any(t.is_alive() for t in self._threads)

    def wait(self) -> None:
        """Wait for every writer."""
        for thread in self._threads:
            thread.join()

    def _timed(self, name: str, job: Any) -> None:
        started = time.perf_counter()
        try:
            job()
        except (OSError, subprocess.SubprocessError, httpx.HTTPError) as exc:  # reported
            self.failures.append(f"{name}: {exc!r}")
        self.seconds[name] = time.perf_counter() - started

    def _ok(self, name: str, result: subprocess.CompletedProcess[str]) -> None:
        if result.returncode != 0:
            self.failures.append(f"{name}: exit {result.returncode}: {result.stderr[-500:]}")

    def _backfill(self) -> None:
        first = self.last_date - dt.timedelta(weeks=self.weeks - 1)
        args = ("backfill", "--from", first.isoformat(), "--to", self.last_date.isoformat())
        self._ok("backfill", cli(self.root, *args))

    def _ingest(self) -> None:
        path = self.root.parent / f"tickets-{self.run_id}.csv"
        created = dt.datetime.combine(self.last_date, dt.time(9))
        lines = ["ticket_id,account_id,created_at,priority,status,subject"]
        for i in range(self.tickets):
            account = f"acct-{(i * 7919) % self.accounts:07d}"
            lines.append(
                f"{self.run_id}-{i},{account},{created},normal,open,Writers {self.run_id} {i}"
            )
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._ok("ingest", cli(self.root, "ingest", str(path), "--into", "tickets"))

    def _users(self) -> None:
        for i in range(self.users):
            name = f"{self.run_id}-user{i}"
            args = ("users", "add", name, "--role", "viewer", "--password", "writer password")
            self._ok("users add", cli(self.root, *args))

    def _overrides(self) -> None:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=120) as client:
            for i in range(self.overrides):
                account = f"acct-{(i * 104729 + 13) % self.accounts:07d}"
                body = {"target": "band", "value": "red", "reason": f"{self.run_id}-{i}"}
                for _ in range(5):  # 409: another writer had the rows; a person tries again
                    reply = client.post(f"/api/v1/accounts/{account}/overrides", json=body)
                    if reply.status_code != 409:
                        break
                    self.conflicts += 1
                    time.sleep(1.0)
                if reply.status_code != 201:
                    self.failures.append(f"override {i}: {reply.status_code} {reply.text[:200]}")
                time.sleep(0.2)

    def check(self) -> dict[str, int]:
        """Count each write in the workspace (through the server); mismatches are failures."""
        counts: dict[str, int] = {}
        found = cli(self.root, "report", "--format", "json")  # the server still answers
        self._ok("report after", found)
        listed = cli(self.root, "users", "list")
        self._ok("users list", listed)
        words = listed.stdout.split()
        counts["users"] = sum(words.count(f"{self.run_id}-user{i}") for i in range(self.users))
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        overrides = 0
        with httpx.Client(base_url=self.url, headers=headers, timeout=120) as client:
            for i in range(self.overrides):
                account = f"acct-{(i * 104729 + 13) % self.accounts:07d}"
                items = client.get(f"/api/v1/accounts/{account}/overrides").json()["items"]
                overrides += [o["reason"] for o in items].count(f"{self.run_id}-{i}")
            tickets = 0
            for i in range(self.tickets):
                account = f"acct-{(i * 7919) % self.accounts:07d}"
                entries = client.get(
                    f"/api/v1/accounts/{account}/timeline", params={"kind": "ticket"}
                ).json()["items"]
                text = [f"{e['title']} {e.get('detail') or ''}" for e in entries]
                tickets += sum(1 for t in text if re.search(rf"\bWriters {self.run_id} {i}\b", t))
        counts["overrides"] = overrides
        counts["tickets"] = tickets
        expected = {"users": self.users, "overrides": self.overrides, "tickets": self.tickets}
        for name, want in expected.items():
            if counts[name] != want:
                self.failures.append(f"{name}: {counts[name]} present, {want} written")
        return counts
