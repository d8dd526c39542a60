"""Ingestion benchmark: `vitalsign ingest` of an events CSV against DuckDB's own read_csv.

Generates an events CSV with DuckDB (COPY), then times, in the same run and on the same
file, (1) DuckDB's `CREATE TABLE ... AS SELECT * FROM read_csv(...)` into a fresh database
and (2) `vitalsign.ingest.files.load_file` into the events table of a fresh workspace (text
read, typing, identity check against accounts, duplicate detection, quarantine, one
transaction). Target: vitalsign takes at most 2x DuckDB's time (at least half its speed).

    .venv/bin/python bench/ingest.py                  # 20,000,000 rows
    .venv/bin/python bench/ingest.py --rows 1000000   # a quick run

Exits with 1 when the target is missed; results also go to `<workdir>/results.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import duckdb

from vitalsign.ingest.files import load_file
from vitalsign.store.workspace import init_workspace

TARGET_RATIO = 2.0
ACCOUNTS = 10_000


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


def main() -> None:
    """Generate, time both, print the ratio and whether the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("bench-ingest-work"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
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
