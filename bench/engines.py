"""Score the same data on DuckDB, PostgreSQL and Spark local: time, and equality to DuckDB.

Uses score.py's generated workspace (its model and data, at the sizes given), copies the
canonical tables into a PostgreSQL schema and into Spark temporary views (from Arrow),
and times `compute_scores` for one date and for evenly spaced weekly dates on each engine.
Prints the largest score difference to DuckDB and the accounts in another band.

    .venv/bin/python bench/engines.py --accounts 2000 --events 500000 --dates 8
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests"), str(ROOT / "tests" / "engine")]

from engine_worlds import arrow_tables, postgres_backend, spark_backend  # noqa: E402

from postgres_server import postgres_bin, running_postgres  # noqa: E402
from score import AS_OF, load_bench_model, prepare_workspace  # noqa: E402
from vitalsign.engine.run import compute_scores  # noqa: E402
from vitalsign.engine.scoring import ScoredFrame  # noqa: E402

console = Console()


def _spark() -> Any:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _timed(run: Callable[[], ScoredFrame]) -> tuple[ScoredFrame, float]:
    started = time.perf_counter()
    scored = run()
    return scored, time.perf_counter() - started


def _differences(duck: ScoredFrame, other: ScoredFrame) -> tuple[float, int, float]:
    """Largest |score difference|, accounts in another band, largest relative item gap."""
    keys = ["as_of", "account_id"]
    a, b = (
        f.scores.astype({"as_of": "datetime64[ns]"}).sort_values(keys).reset_index(drop=True)
        for f in (duck, other)
    )
    assert list(a["account_id"]) == list(b["account_id"]), "different accounts scored"
    gap = float(np.nanmax(np.abs(a["score"].to_numpy(float) - b["score"].to_numpy(float))))
    bands = int((a["band"] != b["band"]).sum())
    ik = ["account_id", "as_of", "kind", "path", "name"]
    x, y = (
        f.items.astype({"as_of": "datetime64[ns]"}).sort_values(ik).reset_index(drop=True)
        for f in (duck, other)
    )
    u, v = x["raw_value"].to_numpy(float), y["raw_value"].to_numpy(float)
    both = ~np.isnan(u) & ~np.isnan(v)
    assert (np.isnan(u) == np.isnan(v)).all(), "a NULL on one engine is a value on the other"
    scale = np.maximum(np.abs(u[both]), 1e-300)
    relative = float(np.max(np.abs(u[both] - v[both]) / scale)) if both.any() else 0.0
    return gap, bands, relative


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--dates", type=int, default=8, help="weekly dates of the backfill")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "engines")
    parser.add_argument("--engines", default="duckdb,postgres,spark")
    args = parser.parse_args()
    engines = args.engines.split(",")
    ws, info = prepare_workspace(args.workdir, args.accounts, args.events)
    model = load_bench_model()
    weekly = [AS_OF - dt.timedelta(weeks=k) for k in range(args.dates - 1, -1, -1)]
    runs = {"one date": [AS_OF], f"{args.dates} weekly dates": weekly}
    console.print(
        f"{info.accounts:,} accounts, {info.events:,} events, load {os.getloadavg()[0]:.1f}"
    )
    with ExitStack() as stack:
        tables = arrow_tables(ws)
        backends: dict[str, Any] = {"duckdb": ws.backend}
        if "postgres" in engines:
            started = time.perf_counter()
            url = os.environ.get("VITALSIGN_TEST_POSTGRES_URL")
            if not url:
                bindir = postgres_bin()
                assert bindir is not None, "PostgreSQL binaries not installed"
                url = stack.enter_context(running_postgres(bindir))
            backends["postgres"] = postgres_backend(url, "bench_engines", tables, "arrow")
            console.print(f"loaded PostgreSQL in {time.perf_counter() - started:.1f}s")
        if "spark" in engines:
            started = time.perf_counter()
            backends["spark"] = spark_backend(_spark(), tables, "arrow")
            console.print(f"loaded Spark in {time.perf_counter() - started:.1f}s")
        table = Table(title="compute_scores on each engine (wall time; equality to DuckDB)")
        for column in (
            "engine",
            "dates",
            "seconds",
            "max |Δscore|",
            "band changes",
            "max rel Δraw",
        ):
            table.add_column(column, justify="left" if column in ("engine", "dates") else "right")
        for label, dates in runs.items():
            duck, duck_s = _timed(lambda d=dates: compute_scores(ws.backend, model, d))  # type: ignore[misc]
            table.add_row("duckdb", label, f"{duck_s:.1f}", "", "", "")
            for name, backend in backends.items():
                if name == "duckdb":
                    continue
                other, seconds = _timed(lambda b=backend, d=dates: compute_scores(b, model, d))  # type: ignore[misc]
                gap, bands, relative = _differences(duck, other)
                table.add_row(
                    name, label, f"{seconds:.1f}", f"{gap:.2e}", str(bands), f"{relative:.1e}"
                )
                console.print(f"{name} {label}: {seconds:.1f}s", highlight=False)
        console.print(table)
    console.print(f"load average at the end {os.getloadavg()[0]:.1f}")
    pd.set_option("display.width", 120)


if __name__ == "__main__":
    main()
