"""Ingestion benchmark: `vitalsign ingest` of an events CSV against DuckDB's own read_csv.

Two runs, each with its baseline measured in the same run:

Events (the default). Generates an events CSV with DuckDB (COPY), then times, in the same
run and on the same file, (1) DuckDB's `CREATE TABLE ... AS SELECT * FROM read_csv(...)`
into a fresh database and (2) `vitalsign.ingest.files.load_file` into the events table of a
fresh workspace (text read, typing, identity check against accounts, duplicate detection,
quarantine, one transaction). Target: vitalsign takes at most 2x DuckDB's time (at least
half its speed).

    .venv/bin/python bench/ingest.py                  # 20,000,000 rows
    .venv/bin/python bench/ingest.py --rows 1000000   # a quick run

Accounts, an update run (`--accounts N`). Generates an accounts CSV of N rows (with a custom
field declared in vitalsign.yml) and a second one in which 10 % of the rows changed (owner,
ARR, seats, updated_at), then times, on one workspace: (1) the first load of the first file
into a fresh workspace, (2) re-ingesting the identical file (every row unchanged) and (3)
ingesting the changed file (10 % updated). Target: the update run takes at most 2x the first
load. It also checks the counts and that account_history holds N + N/10 versions. Each of
`--repeats` rounds (default 3) starts from a fresh workspace; the verdict is on the median.

    .venv/bin/python bench/ingest.py --accounts 1000000   # the recorded update run
    .venv/bin/python bench/ingest.py --accounts 100000    # a quick run
    .venv/bin/python bench/ingest.py --accounts 1000000 --statements  # + the slowest SQL

PostgreSQL (`--postgres`). Starts a PostgreSQL server from the Debian binaries (as the tests
do; scripts/install-system-deps.sh installs them), or uses `--postgres-url`, loads `--rows`
event rows into a table, copies the same rows to a CSV, then measures in a fresh process
each (1) `load_database` of the table and (2) `load_file` of the CSV into a fresh
workspace: seconds, rows per second, peak RSS (getrusage) and the largest temporary disk use
seen (vitalsign-db-* files and DuckDB's spill directory, sampled every 0.2 s). Target: the
database load's peak RSS stays under 1 GiB.

    .venv/bin/python bench/ingest.py --postgres                 # 20,000,000 rows
    .venv/bin/python bench/ingest.py --postgres --rows 2000000  # a quick run

Exits with 1 when the target is missed; results also go to `<workdir>/results.json`
(`results-accounts.json` for the update run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from vitalsign.ingest.files import LoadReport, load_file
from vitalsign.ingest.mapping import Mapping
from vitalsign.store.workspace import Workspace, init_workspace

TARGET_RATIO = 2.0
ACCOUNTS = 10_000
CHANGED_EVERY = 10  # the update file changes one account in 10 (10 %)
ACCOUNTS_CONFIG = """\
backend: duckdb
database: vitalsign.duckdb
model: models/default.yml
account_fields:
  - {name: tier, type: string, description: CRM tier}
"""


def generate(path: Path, rows: int) -> None:
    """Write an events CSV of `rows` rows (event_id, account_id, timestamp, ...)."""
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 'evt-' || i AS event_id, 'acct-' || (i % {ACCOUNTS}) AS account_id,
        TIMESTAMP '2024-01-01' + to_seconds((i * 7919) % 31536000) AS timestamp,
        ['login', 'report_created', 'export', 'invite'][1 + i % 4] AS event,
        'user-' || (i % 200000) AS user_id, ['core', 'reports', 'admin'][1 + i % 3] AS feature,
        CAST(i % 10 AS DOUBLE) AS quantity FROM range({rows}) r(i))
        TO '{path}' (HEADER)"""
    )
    con.close()


def time_duckdb(path: Path, workdir: Path) -> float:
    """Seconds for DuckDB's own read_csv into a table of a fresh database file."""
    db = workdir / "duckdb-baseline.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    start = time.perf_counter()
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_csv('{path}')")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def time_vitalsign(path: Path, workdir: Path, rows: int) -> tuple[float, dict[str, int]]:
    """Seconds for vitalsign's ingest of the file into a fresh workspace's events table."""
    root = workdir / "ws"
    shutil.rmtree(root, ignore_errors=True)
    ws = init_workspace(root)
    ws.duckdb.execute(
        "INSERT INTO accounts (account_id, name, created_at) SELECT 'acct-' || i, "
        f"'Account ' || i, TIMESTAMP '2023-01-01' FROM range({ACCOUNTS}) r(i)"
    )
    start = time.perf_counter()
    report = load_file(ws, path, "events")
    elapsed = time.perf_counter() - start
    ws.close()
    assert report.balanced and report.loaded == rows, report
    counts = {
        "read": report.read,
        "loaded": report.loaded,
        "unchanged": report.unchanged,
        "quarantined": report.quarantined,
    }
    return elapsed, counts


def generate_accounts(path: Path, rows: int, changed: bool) -> None:
    """Write an accounts CSV; with `changed`, every 10th account has a new owner/ARR/seats."""
    hit = f"i % {CHANGED_EVERY} = 3" if changed else "false"
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT printf('acct-%07d', i) AS account_id, 'Account ' || i AS name,
        TIMESTAMP '2022-01-01' + to_seconds((i * 7919) % 63072000) AS created_at,
        CASE WHEN {hit} THEN 'csm-' || ((i + 17) % 400) ELSE 'csm-' || (i % 400) END AS owner,
        ['smb', 'smb', 'mid-market', 'enterprise'][1 + i % 4] AS segment,
        ['starter', 'team', 'business'][1 + i % 3] AS plan,
        CASE WHEN {hit} THEN 6 + i % 500 ELSE 5 + i % 500 END AS seats,
        round(CASE WHEN {hit} THEN 1.1 ELSE 1.0 END * (1000 + (i * 37) % 99000), 2) AS arr,
        DATE '2025-07-01' + CAST(i % 365 AS INTEGER) AS renewal_date,
        CASE WHEN {hit} THEN TIMESTAMP '2025-03-01' + to_seconds(i % 86400)
             ELSE TIMESTAMP '2025-01-01' + to_seconds(i % 86400) END AS updated_at,
        ['bronze', 'silver', 'gold'][1 + i % 3] AS tier
        FROM range({rows}) r(i)) TO '{path}' (HEADER)"""
    )
    con.close()


class _TimedConnection:
    """The workspace's DuckDB connection, timing each statement (for --statements)."""

    def __init__(self, con: Any, log: list[tuple[float, str]]) -> None:
        self._con, self._log = con, log

    def execute(self, sql: str, *args: Any) -> Any:
        start = time.perf_counter()
        result = self._con.execute(sql, *args)
        self._log.append((time.perf_counter() - start, " ".join(sql.split())))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@dataclass
class _TimedWorkspace(Workspace):
    """A workspace whose `duckdb` connection logs each statement's wall time."""

    log: list[tuple[float, str]] = field(default_factory=list)

    @property
    def duckdb(self) -> Any:
        return _TimedConnection(self.backend.con, self.log)


def _timed_load(ws: Workspace, path: Path) -> tuple[float, float, LoadReport]:
    start, cpu = time.perf_counter(), time.process_time()
    report = load_file(ws, path, "accounts")
    return time.perf_counter() - start, time.process_time() - cpu, report


def _counts(report: LoadReport) -> dict[str, int]:
    return {
        "read": report.read,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "quarantined": report.quarantined,
    }


def _check(name: str, report: LoadReport, expected: dict[str, int]) -> None:
    counts = _counts(report)
    wrong = {k: (counts[k], v) for k, v in expected.items() if counts[k] != v}
    if not report.balanced or wrong:
        raise SystemExit(f"{name}: counts not as expected (got, expected): {wrong} {counts}")


def _round(
    rows: int, first: Path, second: Path, root: Path, statements: bool
) -> dict[str, tuple[float, float]]:
    """One round in a fresh workspace: (wall, CPU) seconds of each of the three loads."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "vitalsign.yml").write_text(ACCOUNTS_CONFIG, encoding="utf-8")
    ws = init_workspace(root)
    if statements:
        ws = _TimedWorkspace(ws.root, ws.config)
    ws.duckdb.execute("SELECT 1")  # open the database (and create the tables) before timing
    updated = len(range(3, rows, CHANGED_EVERY))
    runs: dict[str, tuple[float, float]] = {}
    for name, path, expected in (
        ("first load", first, {"read": rows, "inserted": rows}),
        ("unchanged", first, {"read": rows, "unchanged": rows}),
        ("update", second, {"read": rows, "updated": updated, "unchanged": rows - updated}),
    ):
        elapsed, cpu, report = _timed_load(ws, path)
        _check(name, report, expected)
        runs[name] = (elapsed, cpu)
        print(
            f"{name:>10}: {elapsed:6.1f} s wall, {cpu:6.1f} s CPU ({rows / elapsed:,.0f} rows/s) "
            f"{_counts(report)} load {os.getloadavg()[0]:.2f}"
        )
        if isinstance(ws, _TimedWorkspace):
            for seconds, sql in sorted(ws.log, reverse=True)[:8]:
                print(f"    {seconds:6.2f} s  {sql[:150]}")
            ws.log.clear()
    versions = ws.duckdb.execute("SELECT count(*) FROM account_history").fetchone()[0]
    ws.close()
    if versions != rows + updated:
        raise SystemExit(f"account_history holds {versions} rows, expected {rows + updated}")
    return runs


def run_accounts(rows: int, workdir: Path, statements: bool = False, repeats: int = 3) -> None:
    """The update run: first load, the identical file again, then 10 % of rows changed.

    Each of `repeats` rounds starts from a fresh workspace; the verdict is on the median
    ratio (the machine is shared, and one round's wall times move with the load).
    """
    first, second = workdir / f"accounts-{rows}.csv", workdir / f"accounts-{rows}-changed.csv"
    for path, changed in ((first, False), (second, True)):
        if not path.exists():
            start = time.perf_counter()
            generate_accounts(path, rows, changed)
            print(f"generated {path} in {time.perf_counter() - start:.1f} s")
    rounds = []
    for number in range(1, repeats + 1):
        print(f"round {number}/{repeats}, load average {os.getloadavg()[0]:.2f}")
        runs = _round(rows, first, second, workdir / "ws-accounts", statements)
        base, base_cpu = runs["first load"]
        ratios = {
            "update": runs["update"][0] / base,
            "update_cpu": runs["update"][1] / base_cpu,
            "unchanged": runs["unchanged"][0] / base,
            "unchanged_cpu": runs["unchanged"][1] / base_cpu,
        }
        print(
            f"  ratio to the first load: update {ratios['update']:.2f}x "
            f"(CPU {ratios['update_cpu']:.2f}x), unchanged {ratios['unchanged']:.2f}x "
            f"(CPU {ratios['unchanged_cpu']:.2f}x); account_history: "
            f"{rows + len(range(3, rows, CHANGED_EVERY)):,} versions (as expected)"
        )
        seconds = {
            f"{k.replace(' ', '_')}_{u}": v[i]
            for k, v in runs.items()
            for i, u in ((0, "s"), (1, "cpu_s"))
        }
        rounds.append({**seconds, **ratios, "load_average": os.getloadavg()[0]})
    median = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    verdict = "met" if median["update"] <= TARGET_RATIO else "NOT met"
    print(
        f"median of {repeats}: update/first load {median['update']:.2f}x "
        f"(CPU {median['update_cpu']:.2f}x), unchanged/first load {median['unchanged']:.2f}x "
        f"(CPU {median['unchanged_cpu']:.2f}x); target update <= {TARGET_RATIO}x: {verdict}; "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    )
    result = {"accounts": rows, "rounds": rounds, "median": median}
    path = workdir / "results-accounts.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    sys.exit(0 if median["update"] <= TARGET_RATIO else 1)


GIB = 1024**3


def _start_postgres(root: Path) -> tuple[str, Any]:
    """Start a throw-away PostgreSQL server under `root`; return its URL and a stop function."""
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        sys.exit("PostgreSQL binaries not installed (scripts/install-system-deps.sh)")
    bindir = Path(found[-1]).parent
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    root.chmod(0o777)
    data = root / "data"
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def _fill_postgres(url: str, rows: int, csv: Path) -> None:
    """Create `bench_events` with `rows` rows (the CSV generator's values) and copy it to `csv`."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("DROP TABLE IF EXISTS bench_events")
        pg.execute(
            f"""CREATE UNLOGGED TABLE bench_events AS SELECT 'evt-' || i AS event_id,
            'acct-' || (i % {ACCOUNTS}) AS account_id,
            TIMESTAMP '2024-01-01' + make_interval(secs => (i * 7919::bigint) % 31536000)
            AS timestamp,
            (ARRAY['login', 'report_created', 'export', 'invite'])[1 + i % 4] AS event,
            'user-' || (i % 200000) AS user_id,
            (ARRAY['core', 'reports', 'admin'])[1 + i % 3] AS feature,
            CAST(i % 10 AS double precision) AS quantity
            FROM generate_series(0, {rows - 1}::bigint) i"""
        )
        with (
            csv.open("wb") as out,
            pg.cursor().copy("COPY bench_events TO STDOUT WITH (FORMAT csv, HEADER true)") as copy,
        ):
            for block in copy:
                out.write(block)


def _temp_usage(paths: list[Path]) -> int:
    total = 0
    for base in paths:
        candidates = [base] if base.is_file() else list(base.glob("**/*")) if base.is_dir() else []
        for item in candidates:
            with contextlib.suppress(OSError):
                total += item.stat().st_size if item.is_file() else 0
    total += sum(
        p.stat().st_size for p in Path(tempfile.gettempdir()).glob("vitalsign-db-*") if p.exists()
    )
    return total


def measure_child(kind: str, target: str, rows: int, workdir: Path) -> None:
    """In a fresh process: load the table (`db`) or the CSV (`csv`); print a JSON result."""
    from vitalsign.ingest.database import load_database
    from vitalsign.store.workspace import DatabaseSource

    root = workdir / f"ws-{kind}"
    shutil.rmtree(root, ignore_errors=True)
    ws = init_workspace(root)
    ws.duckdb.execute(
        "INSERT INTO accounts (account_id, name, created_at) SELECT 'acct-' || i, "
        f"'Account ' || i, TIMESTAMP '2023-01-01' FROM range({ACCOUNTS}) r(i)"
    )
    watched = [ws.database_path.with_name(ws.database_path.name + ".tmp")]
    peak_temp = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak_temp[0] = max(peak_temp[0], _temp_usage(watched))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    if kind == "db":
        source = DatabaseSource.model_validate(
            {"name": "pg", "into": "events", "url": target, "table": "bench_events"}
        )
        report = load_database(ws, source, Mapping(), "events")
    else:
        report = load_file(ws, Path(target), "events")
    elapsed = time.perf_counter() - start
    done.set()
    watcher.join()
    ws.close()
    assert report.balanced and report.loaded == rows, report
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": elapsed, "peak_rss": peak, "peak_temp": peak_temp[0]}))


def run_postgres(rows: int, workdir: Path, url: str | None) -> None:
    """Measure load_database of a PostgreSQL table against load_file of the same rows."""
    stop = None
    if url is None:
        url, stop = _start_postgres(workdir / "pg")
    try:
        csv = workdir / f"pg-events-{rows}.csv"
        start = time.perf_counter()
        _fill_postgres(url, rows, csv)
        print(
            f"filled PostgreSQL and {csv} with {rows:,} rows in {time.perf_counter() - start:.1f} s"
        )
        results: dict[str, Any] = {"rows": rows}
        for kind, target in (("db", url), ("csv", str(csv))):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    kind,
                    target,
                    "--rows",
                    str(rows),
                    "--workdir",
                    str(workdir),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results[kind] = result
            label = "load_database (PostgreSQL)" if kind == "db" else "load_file (CSV)"
            print(
                f"{label}: {result['seconds']:.1f} s ({rows / result['seconds']:,.0f} rows/s), "
                f"peak RSS {result['peak_rss'] / GIB:.2f} GiB, "
                f"peak temp {result['peak_temp'] / GIB:.2f} GiB"
            )
        csv.unlink(missing_ok=True)
    finally:
        if stop is not None:
            stop()
    (workdir / "results-postgres.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    ok = results["db"]["peak_rss"] < GIB
    print(f"database load peak RSS < 1 GiB: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


def main() -> None:
    """Generate, time both, print the ratio and whether the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument(
        "--accounts", type=int, default=0, help="run the accounts update run with N rows instead"
    )
    parser.add_argument(
        "--statements", action="store_true", help="with --accounts: each run's slowest SQL"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="with --accounts: rounds (median verdict)"
    )
    parser.add_argument("--workdir", type=Path, default=Path("bench-ingest-work"))
    parser.add_argument(
        "--postgres", action="store_true", help="load_database of PostgreSQL against the CSV"
    )
    parser.add_argument("--postgres-url", help="with --postgres: use this server")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.measure:
        measure_child(args.measure[0], args.measure[1], args.rows, args.workdir.resolve())
        return
    if args.postgres:
        run_postgres(args.rows, args.workdir.resolve(), args.postgres_url)
    if args.accounts:
        run_accounts(args.accounts, args.workdir, args.statements, args.repeats)
    csv = args.workdir / f"events-{args.rows}.csv"
    if not csv.exists():
        start = time.perf_counter()
        generate(csv, args.rows)
        print(
            f"generated {csv} ({csv.stat().st_size / 1e9:.2f} GB) in "
            f"{time.perf_counter() - start:.1f} s"
        )
    duck = time_duckdb(csv, args.workdir)
    print(f"duckdb read_csv into a table: {duck:.1f} s ({args.rows / duck:,.0f} rows/s)")
    ours, counts = time_vitalsign(csv, args.workdir, args.rows)
    print(f"vitalsign ingest into events: {ours:.1f} s ({args.rows / ours:,.0f} rows/s) {counts}")
    ratio = ours / duck
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(
        f"time ratio vitalsign/duckdb: {ratio:.2f}x (speed {1 / ratio:.2f}x of DuckDB's); "
        f"target <= {TARGET_RATIO}x: {verdict}"
    )
    result = {"rows": args.rows, "duckdb_s": duck, "vitalsign_s": ours, "ratio": ratio, **counts}
    (args.workdir / "results.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    sys.exit(0 if ratio <= TARGET_RATIO else 1)


if __name__ == "__main__":
    main()
