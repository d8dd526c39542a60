"""The snapshot writer of an earlier commit against today's, on the scoring benchmark's data.

For each writer, on a fresh copy of the benchmark workspace, runs `backfill` over the same
weekly dates twice: the first run writes the snapshots, the second replaces every one of
them (as after editing the model). Prints both times and the peak RSS.

    .venv/bin/python bench/compare_writers.py --old dc774a9 --dates 13

`--old` is any git revision; its `src/vitalsign/engine/snapshots.py` is loaded beside the
installed package. It needs the workspace that `bench/score.py` generates, and about twice
its size of free disk for the copy. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import vitalsign.engine.run as engine_run
from score import backfill_dates, load_bench_model, peak_rss_bytes
from vitalsign.store.workspace import open_workspace

WRITER = "src/vitalsign/engine/snapshots.py"


def child(workspace: Path, old: str | None, dates: int) -> None:
    """Backfill `dates` twice on a copy of `workspace` with one writer; print the times."""
    if old is not None:
        source = subprocess.run(
            ["git", "show", f"{old}:{WRITER}"], check=True, capture_output=True, text=True
        ).stdout
        path = Path("bench/out/old_snapshots.py")
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("old_snapshots", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        engine_run.write_snapshots = module.write_snapshots  # type: ignore[attr-defined]
    copy = workspace.with_name(workspace.name + "-writers")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(workspace, copy)
    ws = open_workspace(copy)
    model = load_bench_model()
    chosen = backfill_dates(dates)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        engine_run.backfill(ws, chosen, model, show_progress=False)
        times.append(time.perf_counter() - started)
    ws.close()
    shutil.rmtree(copy)
    print(json.dumps({"first": times[0], "again": times[1], "peak_bytes": peak_rss_bytes()}))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the old writer, then today's, each in a child process; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="git revision of the earlier writer")
    parser.add_argument("--dates", type=int, default=13)
    parser.add_argument("--workspace", type=Path, default=Path("bench/out/ws"))
    parser.add_argument("--child", choices=["old", "new"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.workspace, args.old if args.child == "old" else None, args.dates)
        return 0
    print(f"{'writer':<16} {'first':>8} {'again':>8} {'peak RSS':>9}  ({args.dates} dates)")
    for which in ("old", "new"):
        command = [sys.executable, __file__, "--old", args.old, "--dates", str(args.dates)]
        command += ["--workspace", str(args.workspace), "--child", which]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        label = args.old if which == "old" else "today"
        gib = result["peak_bytes"] / 2**30
        print(
            f"{label:<16} {result['first']:>7.1f}s {result['again']:>7.1f}s {gib:>6.2f} GiB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
