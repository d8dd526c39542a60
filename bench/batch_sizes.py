"""How a backfill's batch size trades time for memory, on the scoring benchmark's data.

Scores the same weekly dates in batches of each size (query and scoring, no writes), each
size in a fresh child process, and prints the wall time and the child's peak RSS. This is
what `vitalsign.engine.run.batch_size_for` was chosen from (docs/benchmarks.md).

    .venv/bin/python bench/batch_sizes.py                      # bench/out/ws, 8 and 26 dates
    .venv/bin/python bench/batch_sizes.py --dates 8 --sizes 1 2 4 8

It needs the workspace that `bench/score.py` generates (run that first). Run it as a
script from the repository root: it imports `score` from this folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from score import backfill_dates, load_bench_model, peak_rss_bytes
from vitalsign.engine.run import compute_scores
from vitalsign.store.workspace import open_workspace


def child(workspace: Path, dates: int, size: int) -> None:
    """Score the last `dates` weekly dates in batches of `size`; print seconds and peak RSS."""
    ws = open_workspace(workspace)
    model = load_bench_model()
    chosen = backfill_dates(dates)
    started = time.perf_counter()
    for start in range(0, dates, size):
        compute_scores(ws.backend, model, chosen[start : start + size])
    seconds = time.perf_counter() - started
    ws.close()
    print(json.dumps({"seconds": seconds, "peak_bytes": peak_rss_bytes()}))


def main(argv: Sequence[str] | None = None) -> int:
    """Run each (dates, size) pair in a child process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path("bench/out/ws"))
    parser.add_argument("--dates", type=int, nargs="+", default=[8, 26])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 13])
    parser.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.workspace, *args.child)
        return 0
    print(f"{'dates':>5} {'batch':>5} {'seconds':>8} {'peak RSS':>9}")
    for dates in args.dates:
        for size in (s for s in args.sizes if s <= dates):
            command = [sys.executable, __file__, "--workspace", str(args.workspace)]
            output = subprocess.run(
                [*command, "--child", str(dates), str(size)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(output.strip().splitlines()[-1])
            gib = result["peak_bytes"] / 2**30
            print(f"{dates:>5} {size:>5} {result['seconds']:>7.1f}s {gib:>6.2f} GiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
