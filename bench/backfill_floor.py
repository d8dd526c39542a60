"""A lower bound for any weekly backfill: the per-account, per-week aggregates alone.

Whatever its design, a backfill of weekly dates must read every row inside the dates'
windows at least once and aggregate it by account and by week; only then can it add weeks
up into windows and score. This hand-written DuckDB query does only that first step, for
the benchmark model's tables, and does less than the model needs:

* one period per week, although windows of 30, 60 and 90 days end inside a week;
* no `count_distinct` (distinct users do not add up over weeks);
* no window sums, no derived signals, no scoring.

So its time is a floor: `bench/score.py` compares it, and the engine's scoring of the same
dates, with one date's `compute_scores`.

    .venv/bin/python bench/backfill_floor.py bench/out/ws/vitalsign.duckdb
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

WEEK_SECONDS = 7 * 86_400
LOOKBACK_DAYS = {"events": 90, "tickets": 180, "invoices": 365}
"""The longest window the benchmark model reads on each table."""


def _period(column: str, anchor: dt.date) -> str:
    """The week a row falls in, counted from `anchor` (the last scored date)."""
    return f"(epoch({column})::BIGINT - epoch(TIMESTAMP '{anchor}')::BIGINT) // {WEEK_SECONDS}"


def _bounds(column: str, table: str, dates: Sequence[dt.date]) -> str:
    """The rows of `table` that some date's longest window holds."""
    start = min(dates) - dt.timedelta(days=LOOKBACK_DAYS[table])
    return f"{column} >= TIMESTAMP '{start}' AND {column} < TIMESTAMP '{max(dates)}'"


def floor_sql(dates: Sequence[dt.date]) -> str:
    """The per-account, per-week partial aggregates that any backfill of `dates` needs."""
    anchor = max(dates)
    return f"""
    WITH ev AS (
        SELECT account_id, {_period("timestamp", anchor)} AS period,
            count(*) FILTER (WHERE event = 'login') AS logins,
            count(*) AS events,
            count(*) FILTER (WHERE event IN ('report_created', 'export')) AS key_actions,
            sum(quantity) AS quantity,
            count(quantity) AS quantity_rows,
            max(quantity) FILTER (WHERE event = 'export') AS max_export_quantity,
            arg_max(feature, timestamp) AS last_feature,
            max(timestamp) FILTER (WHERE event = 'login') AS last_login
        FROM events WHERE {_bounds("timestamp", "events", dates)}
        GROUP BY ALL
    ), tk AS (
        SELECT account_id, {_period("created_at", anchor)} AS period,
            count(*) AS tickets,
            count(*) FILTER (WHERE priority IN ('high', 'urgent')) AS urgent_tickets,
            sum(satisfaction) AS satisfaction,
            count(satisfaction) AS satisfaction_rows
        FROM tickets WHERE {_bounds("created_at", "tickets", dates)}
        GROUP BY ALL
    ), inv AS (
        SELECT account_id, {_period("issued_at", anchor)} AS period,
            count(*) FILTER (WHERE status = 'failed') AS failed_payments,
            count(*) AS invoices,
            sum(amount) AS invoiced,
            count(*) FILTER (WHERE status = 'open') AS open_invoices
        FROM invoices WHERE {_bounds("issued_at", "invoices", dates)}
        GROUP BY ALL
    )
    SELECT 'events' AS source, account_id, period, logins AS a, events AS b, key_actions AS c,
        quantity AS d, quantity_rows AS e, max_export_quantity AS f,
        epoch(last_login) AS g, last_feature AS h
    FROM ev
    UNION ALL BY NAME
    SELECT 'tickets' AS source, account_id, period, tickets AS a, urgent_tickets AS b,
        satisfaction_rows AS c, satisfaction AS d
    FROM tk
    UNION ALL BY NAME
    SELECT 'invoices' AS source, account_id, period, failed_payments AS a, invoices AS b,
        open_invoices AS c, invoiced AS d
    FROM inv
    """


def time_floor(connection: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]) -> float:
    """Run the floor query twice (the first warms the buffer pool); return the faster run."""
    return time_floor_and_cpu(connection, dates)[0]


def time_floor_and_cpu(
    connection: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]
) -> tuple[float, float]:
    """Return the faster of two runs' wall seconds, and its CPU seconds (all threads).

    CPU time tells more than wall time on a machine shared with other work.
    """
    sql = floor_sql(dates)
    best = (float("inf"), float("inf"))
    for _ in range(2):
        started, cpu = time.perf_counter(), time.process_time()
        connection.execute(sql).to_arrow_table()
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Time the floor on a benchmark workspace's database file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", type=Path, help="the benchmark workspace's DuckDB file")
    parser.add_argument("--dates", type=int, default=52, help="weekly dates")
    parser.add_argument("--last", type=dt.date.fromisoformat, default=dt.date(2025, 6, 2))
    args = parser.parse_args(argv)
    dates = [args.last - dt.timedelta(weeks=k) for k in range(args.dates)]
    connection = duckdb.connect(str(args.database), read_only=True)
    print(f"floor for {args.dates} weekly dates: {time_floor(connection, dates):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
