"""Web benchmark: the account page and the portfolio API under 20 concurrent clients.

Builds a workspace of N accounts with a year of weekly score history written straight into
`scores` and `score_items` with SQL (about 20 signal and group rows per account and date,
inserted date by date and, within a date, by account, as a scoring run's snapshot would be
if ordered), starts `vitalsign serve` on 127.0.0.1 in a subprocess, waits for its serving
cache, and measures with a minimal asyncio HTTP/1.1 client (or httpx: `--client httpx`; 20
concurrent keep-alive connections, a bounded number of requests and seconds), recording the
CPU time per request of the server and of the client and the load average:

* the account page (HTML, a session cookie, a random account per request);
* the portfolio API (JSON, a bearer token), as an admin and as csms (each csm's own book).

Targets (docs/benchmarks.md, "## Web"): median under 100 ms and p99 under 300 ms.

    .venv/bin/python bench/web.py                            # 100,000 accounts × 52 weeks
    .venv/bin/python bench/web.py --accounts 2000 --weeks 8  # a quick run

The workspace is kept in `--workdir` and reused when the sizes match; results are written to
`<workdir>/web-results.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from vitalsign.store.workspace import Workspace, init_workspace, open_workspace
from vitalsign.web.tables import ensure_web_tables
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

GENERATOR_VERSION = 1  # bump when the generated data changes, so old workspaces are rebuilt
LAST_DATE = dt.date(2025, 5, 26)
OWNERS = 40
PASSWORD = "benchmark password"
TARGET_MEDIAN_MS = 100.0
TARGET_P99_MS = 300.0
GROUPS = ["usage", "support", "sentiment", "financial", "csm_view"]
console = Console(highlight=False)


# ------------------------------------------------------------------------------------------
# The workspace: accounts and a year of weekly snapshots, generated inside DuckDB.
# ------------------------------------------------------------------------------------------
def _signal_rows(workspace: Workspace) -> list[tuple[int, str, str]]:
    names = list(workspace.load_model().spec.signals)
    rows = []
    for i, name in enumerate(names):
        group = GROUPS[0 if i < 9 else 1 if i < 12 else 2 if i < 13 else 3 if i < 15 else 4]
        rows.append((i, name, group))
    return rows


def build_workspace(root: Path, accounts: int, weeks: int) -> dict[str, float]:
    """Create the benchmark workspace; return how long each part took (seconds)."""
    shutil.rmtree(root, ignore_errors=True)
    workspace = init_workspace(root)
    con = workspace.duckdb
    model = workspace.load_model()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    con.execute(
        """
        INSERT INTO accounts (account_id, name, created_at, owner, segment, plan, seats, arr,
                              renewal_date)
        SELECT printf('acct-%07d', i),
               (['Nor','Bright','Blue','Quant','Vel','Arc','Hex','Lum'])[1 + i % 8]
                 || (['tex','wave','path','stone','line','works'])[1 + (i // 8) % 6] || ' ' || i,
               TIMESTAMP '2022-01-01' + to_days((i % 700)::INTEGER),
               printf('csm%02d@vendor.example', i % ?),
               (['smb','mid-market','enterprise'])[
                 1 + (hash(i) % 10 > 6)::INT + (hash(i) % 10 > 8)::INT],
               'growth', 10 + i % 90, 1000 + (hash(i, 'arr') % 200000)::DOUBLE,
               DATE '2025-09-01' + ((i % 365)::INTEGER)
        FROM range(?) t(i)""",
        [OWNERS, accounts],
    )
    signals = _signal_rows(workspace)
    values = ", ".join(f"({i}, '{n}', '{g}')" for i, n, g in signals)
    con.execute(f"CREATE TEMP TABLE sig AS SELECT * FROM (VALUES {values}) t(pos, name, path)")
    groups = ", ".join(f"({i}, '{g}')" for i, g in enumerate(GROUPS))
    con.execute(f"CREATE TEMP TABLE grp AS SELECT * FROM (VALUES {groups}) t(pos, name)")
    dates = [LAST_DATE - dt.timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    with console.status("") as status:
        for k, day in enumerate(dates):
            status.update(f"Writing snapshot {k + 1}/{len(dates)} ({day})")
            model_hash = "0ld0ld0ld0ld0ld0" if k < weeks // 2 else model.hash
            _write_snapshot(con, day, k, model_hash, len(signals))
    con.execute("CHECKPOINT")
    timings["generate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    ensure_web_tables(con)  # the serving indexes, as `vitalsign serve` would create them
    con.execute("CHECKPOINT")
    timings["indexes_s"] = time.perf_counter() - start
    workspace.close()
    return timings


def _write_snapshot(con: object, day: dt.date, k: int, model_hash: str, signals: int) -> None:
    execute = con.execute  # type: ignore[attr-defined]
    execute("BEGIN")
    execute(
        """
        CREATE OR REPLACE TEMP TABLE day AS
        SELECT a.account_id, a.name, a.owner, a.segment, a.arr,
               greatest(0, least(100, 15 + (hash(a.account_id) % 70)
                 + ((hash(a.account_id, ?) % 2000) / 100.0) - 10
                 + ? * ((hash(a.account_id, 't') % 7)::INT - 3) / 4.0)) AS base
        FROM accounts a""",
        [day, k],
    )
    execute(
        """
        INSERT INTO scores
        SELECT ?, 'default', ?, account_id, name, owner, segment, arr, 'default', NULL,
               CASE WHEN hash(account_id, ?) % 50 = 0 THEN base - 15 ELSE base END, base,
               CASE WHEN base >= 70 THEN 'green' WHEN base >= 40 THEN 'yellow' ELSE 'red' END,
               CASE WHEN base >= 70 THEN 'green' WHEN base >= 40 THEN 'yellow' ELSE 'red' END,
               0.9, true,
               CASE WHEN hash(account_id, ?) % 50 = 0 THEN '["champion_left"]' ELSE '[]' END,
               now()
        FROM day ORDER BY account_id""",
        [day, model_hash, day, day],
    )
    execute(
        f"""
        INSERT INTO score_items
        SELECT ?, 'default', account_id, kind, name, path, raw_value, raw_value::VARCHAR,
               points, weight, points * weight
        FROM (
            SELECT d.account_id, 'signal' AS kind, s.name, s.path, s.pos,
                   round((hash(d.account_id, s.name, ?) % 10000) / 100.0, 2) AS raw_value,
                   greatest(0, least(100, d.base + (hash(d.account_id, s.pos, ?) % 40)::INT - 20))
                     AS points,
                   1.0 / {signals} AS weight
            FROM day d, sig s
            UNION ALL
            SELECT d.account_id, 'group', g.name, g.name, 100 + g.pos, NULL, d.base, 0.2
            FROM day d, grp g
        ) ORDER BY account_id, pos""",
        [day, day, day],
    )
    execute("COMMIT")


def prepare(workdir: Path, accounts: int, weeks: int) -> tuple[Path, dict[str, float]]:
    """Return the workspace folder (built or reused) and the build timings."""
    root = workdir / f"web-{accounts}x{weeks}"
    marker = root / "bench-web.json"
    wanted = {"version": GENERATOR_VERSION, "accounts": accounts, "weeks": weeks}
    if marker.exists():
        saved = json.loads(marker.read_text())
        if {k: saved.get(k) for k in wanted} == wanted:
            console.print(f"Reusing {root}")
            return root, saved.get("timings", {})
    console.print(f"Building {root}: {accounts:,} accounts × {weeks} weekly snapshots")
    timings = build_workspace(root, accounts, weeks)
    marker.write_text(json.dumps({**wanted, "timings": timings}))
    return root, timings


# ------------------------------------------------------------------------------------------
# The server and the clients.
# ------------------------------------------------------------------------------------------
def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def add_users(root: Path) -> dict[str, str]:
    """Create an admin and one csm per owner (idempotent); return API tokens by user."""
    workspace = open_workspace(root)
    con = workspace.duckdb
    ensure_web_tables(con)
    con.execute("DELETE FROM web_tokens")
    con.execute("DELETE FROM web_users")
    add_user(con, "bench-admin", "admin", PASSWORD, actor="bench")
    tokens = {"bench-admin": create_token(con, "bench-admin", "bench", actor="bench")[1]}
    for i in range(OWNERS):
        name = f"csm{i:02d}"
        add_user(con, name, "csm", PASSWORD, owner=f"{name}@vendor.example", actor="bench")
        tokens[name] = create_token(con, name, "bench", actor="bench")[1]
    workspace.close()
    return tokens


class Server:
    """`vitalsign serve` in a subprocess on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "vitalsign", "serve", "-w", str(root)]
        command += ["--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait(self, seconds: float = 600) -> None:
        """Wait until the server answers (the first start builds the serving indexes)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("vitalsign serve exited early")
            try:
                if httpx.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit("vitalsign serve did not start in time")

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        self.process.wait(timeout=30)


def session_cookie(url: str, user: str) -> dict[str, str]:
    """Sign in through the login form; return the cookies to send."""
    with httpx.Client(base_url=url) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        reply = client.post(
            "/login", data={"username": user, "password": PASSWORD, "csrf_token": token[1]}
        )
        assert reply.status_code == 303, reply.text
        return {"vitalsign_session": client.cookies["vitalsign_session"]}


def wait_for_serving_cache(url: str, cookies: dict[str, str], seconds: float = 900) -> float:
    """Wait until account pages come from the in-memory serving cache; return the wait."""
    started = time.monotonic()
    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
        while time.monotonic() < started + seconds:
            reply = client.get("/accounts/acct-0000000")
            if 'data;desc="memory"' in reply.headers.get("server-timing", ""):
                return time.monotonic() - started
            time.sleep(0.5)
    raise SystemExit("the serving cache was not built in time")


RequestMaker = Callable[[int], tuple[str, dict[str, str], dict[str, str]]]


@dataclass
class Result:
    """Latencies of one scenario."""

    name: str
    clients: int
    requests: int
    errors: int
    seconds: float
    median_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_median_ms: float
    server_cpu_ms: float = float("nan")  # CPU time of the server process per request
    client_cpu_ms: float = float("nan")  # CPU time of this (the load generator) per request
    load_average: float = float("nan")  # 1-minute load average at the end of the scenario

    @property
    def throughput(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def meets_target(self) -> bool:
        """Median and p99 within the targets, and no errors."""
        return self.median_ms < TARGET_MEDIAN_MS and self.p99_ms < TARGET_P99_MS and not self.errors


def cpu_seconds(pid: int | None = None) -> float:
    """Return the user + system CPU time of a process (this one by default), in seconds."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    server: Server,
    name: str,
    requests: RequestMaker,
    clients: int,
    total: int,
    max_seconds: float,
    client: str,
) -> Result:
    """Run one load (`run_load`) and add the CPU time per request of server and client."""
    server_before, client_before = cpu_seconds(server.process.pid), cpu_seconds()
    result = asyncio.run(run_load(name, server.url, requests, clients, total, max_seconds, client))
    per_request = 1000 / max(result.requests, 1)
    result.server_cpu_ms = (cpu_seconds(server.process.pid) - server_before) * per_request
    result.client_cpu_ms = (cpu_seconds() - client_before) * per_request
    result.load_average = os.getloadavg()[0]
    return result


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


class Connection:
    """One keep-alive HTTP/1.1 connection: a load generator lighter than httpx.

    On this 2-core machine the load generator shares the CPU with the server: httpx spends
    2–4 ms of CPU a request, this client a fraction of that (`--client httpx` compares).
    """

    def __init__(self, url: str) -> None:
        address = httpx.URL(url)
        self.host, self.port = address.host, address.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Send a GET, read the whole answer; return the status and the (last) headers."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        answer = {}
        for line in head[1:]:
            key, _, value = line.partition(":")
            if key:
                answer[key.strip().lower()] = value.strip()
        if "content-length" in answer:
            await self.reader.readexactly(int(answer["content-length"]))
        elif answer.get("transfer-encoding") == "chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        return status, answer

    def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()


async def run_load(
    name: str,
    url: str,
    requests: RequestMaker,
    clients: int,
    total: int,
    max_seconds: float,
    client: str = "raw",
) -> Result:
    """Send `total` requests from `clients` concurrent tasks (stop early after max_seconds)."""
    latencies: list[float] = []
    server_ms: list[float] = []
    errors = 0
    counter = iter(range(total))
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def send(shared: httpx.AsyncClient, own: Connection, i: int) -> tuple[int, str]:
        path, headers, cookies = requests(i)
        if client == "httpx":
            shared.cookies.clear()
            reply = await shared.get(path, headers=headers, cookies=cookies)
            await reply.aread()
            return reply.status_code, reply.headers.get("server-timing", "")
        if cookies:
            headers = {**headers, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        status, answer = await own.get(path, headers)
        return status, answer.get("server-timing", "")

    async def worker(shared: httpx.AsyncClient) -> None:
        nonlocal errors
        own = Connection(url)
        try:
            for i in counter:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                status, timing = await send(shared, own, i)
                latencies.append((time.perf_counter() - started) * 1000)
                if "dur=" in timing:
                    server_ms.append(float(timing.split("dur=")[1].split(",")[0]))
                if status != 200:
                    errors += 1
        finally:
            own.close()

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as shared:
        await asyncio.gather(*(worker(shared) for _ in range(clients)))
    seconds = time.perf_counter() - started
    return Result(
        name=name,
        clients=clients,
        requests=len(latencies),
        errors=errors,
        seconds=seconds,
        median_ms=statistics.median(latencies),
        p90_ms=_percentile(latencies, 0.90),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=max(latencies),
        server_median_ms=statistics.median(server_ms) if server_ms else float("nan"),
    )


def scenarios(
    accounts: int, tokens: dict[str, str], cookies: dict[str, str], seed: int
) -> dict[str, RequestMaker]:
    """The request makers of each scenario."""
    rng = random.Random(seed)
    picks = [rng.randrange(accounts) for _ in range(100_000)]
    admin = {"Authorization": f"Bearer {tokens['bench-admin']}"}
    csms = [f"csm{i:02d}" for i in range(OWNERS)]
    return {
        "account page": lambda i: (
            f"/accounts/acct-{picks[i % len(picks)]:07d}",
            {},
            cookies,
        ),
        "portfolio API admin": lambda i: ("/api/v1/portfolio", admin, {}),
        "portfolio API csms": lambda i: (
            "/api/v1/portfolio",
            {"Authorization": f"Bearer {tokens[csms[i % len(csms)]]}"},
            {},
        ),
        "account list": lambda i: (f"/accounts?page={1 + i % 50}&sort=score", {}, cookies),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Build or reuse the workspace, serve it, measure, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="per scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator: a minimal asyncio HTTP/1.1 client, or httpx",
    )
    parser.add_argument(
        "--only", default="", help="run only the scenarios whose name contains this text"
    )
    parser.add_argument(
        "--with-writers",
        action="store_true",
        help="load the account page while CLI backfill, ingest, users add and web overrides "
        "write (bench/web_writers.py); every write is counted afterwards",
    )
    args = parser.parse_args(argv)

    root, timings = prepare(args.workdir, args.accounts, args.weeks)
    tokens = add_users(root)
    size_gib = (root / "vitalsign.duckdb").stat().st_size / 2**30
    server = Server(root)
    started = time.perf_counter()
    try:
        server.wait()
        startup = time.perf_counter() - started
        cookies = session_cookie(server.url, "bench-admin")
        cache_ready = wait_for_serving_cache(server.url, cookies)
        makers = scenarios(args.accounts, tokens, cookies, args.seed)
        results = []
        writers = None
        if args.with_writers:
            writers = _with_writers(server, root, tokens, makers["account page"], args)
            results.append(writers.pop("result"))
        for name, maker in makers.items():
            if args.only not in name or writers is not None:
                continue
            asyncio.run(run_load(name, server.url, maker, 4, 40, 60, args.client))  # warm up
            one = measure(server, name, maker, 1, 200, args.max_seconds / 4, args.client)
            many = measure(
                server, name, maker, args.clients, args.requests, args.max_seconds, args.client
            )
            results += [one, many]
    finally:
        server.stop()

    table = Table(
        title=f"Web: {args.accounts:,} accounts × {args.weeks} weeks "
        f"({size_gib:.1f} GiB DuckDB file), {os.cpu_count()} cores",
        title_justify="left",
    )
    columns = (
        "scenario",
        "clients",
        "requests",
        "req/s",
        "median",
        "p90",
        "p99",
        "max",
        "app",
        "server CPU",
        "client CPU",
        "load",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    table.add_column("target")
    for r in results:
        verdict = ("met" if r.meets_target else "MISSED") if r.clients > 1 else ""
        table.add_row(
            r.name,
            str(r.clients),
            f"{r.requests} ({r.errors} errors)" if r.errors else str(r.requests),
            f"{r.throughput:.0f}",
            f"{r.median_ms:.1f} ms",
            f"{r.p90_ms:.1f} ms",
            f"{r.p99_ms:.1f} ms",
            f"{r.max_ms:.1f} ms",
            f"{r.server_median_ms:.1f} ms",
            f"{r.server_cpu_ms:.1f} ms",
            f"{r.client_cpu_ms:.1f} ms",
            f"{r.load_average:.1f}",
            verdict,
        )
    console.print(table)
    console.print(
        f"Targets with {args.clients} clients: median < {TARGET_MEDIAN_MS:.0f} ms, "
        f"p99 < {TARGET_P99_MS:.0f} ms. Server start {startup:.1f} s, serving cache ready "
        f"{cache_ready:.1f} s later; " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    )
    (args.workdir / "web-results.json").write_text(
        json.dumps(
            {
                "accounts": args.accounts,
                "weeks": args.weeks,
                "size_gib": size_gib,
                "timings": timings,
                "startup_s": startup,
                "serving_cache_ready_s": cache_ready,
                "results": [{**asdict(r), "throughput": r.throughput} for r in results],
                "writers": writers,
            },
            indent=2,
        )
    )
    if writers is not None:
        console.print(
            f"Writers ({', '.join(f'{k} {v:.1f} s' for k, v in writers['seconds'].items())}); "
            f"present afterwards: {writers['counts']}; web overrides sent again after a 409: "
            f"{writers['web_conflicts_retried']}; failures: {writers['failures'] or 'none'}"
        )
    key = [r for r in results if r.clients > 1 and "csms" not in r.name and "list" not in r.name]
    failed = bool(writers and writers["failures"])
    return 0 if all(r.meets_target for r in key) and not failed else 1


def _with_writers(
    server: Server, root: Path, tokens: dict[str, str], maker: RequestMaker, args: Any
) -> dict[str, Any]:
    """Load the account page while the writers run; then count every write."""
    from web_writers import Writers  # bench/ is on the path when run as a script

    writers = Writers(root, server.url, tokens["bench-admin"], args.accounts, LAST_DATE)
    asyncio.run(run_load("warm", server.url, maker, 4, 40, 60, args.client))
    writers.start()
    result = measure(
        server, "account page + writers", maker, args.clients, 10**7, args.max_seconds, args.client
    )
    during = writers.running()
    writers.wait()
    counts = writers.check()
    if not during:
        writers.failures.append("the writers finished before the load did: lower --max-seconds")
    return {
        "result": result,
        "seconds": writers.seconds,
        "counts": counts,
        "web_conflicts_retried": writers.conflicts,
        "failures": writers.failures,
    }


if __name__ == "__main__":
    sys.exit(main())
