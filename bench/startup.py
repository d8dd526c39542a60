"""CLI startup benchmark: `vitalsign --help` and the light commands against `python -c pass`.

Each command runs in a fresh interpreter, `--repeat` times; the best and the median wall time
are printed with the best's ratio to `python -c pass` measured in the same run (the best is
the one least disturbed by other processes on a shared machine; the verdict uses it). The
light commands (`check`, `report`, `explain`) also run for real on a small demo workspace
built once in `--workdir`.
The target (issue 15): `--help` and the light commands' `--help` start in under 1 s.

    .venv/bin/python bench/startup.py               # 5 repeats
    .venv/bin/python bench/startup.py --repeat 9
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

TARGET_SECONDS = 1.0
CLI = [sys.executable, "-m", "vitalsign"]


def _seconds(argv: list[str], repeat: int, cwd: Path) -> tuple[float, float, float]:
    """Best and median wall time, and best CPU time, of running `argv` in a fresh process.

    CPU time (user + system of the child) hardly changes with the machine's load; wall time
    does, so on a shared machine the CPU column is the steadier one.
    """
    times, cpu = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(times), statistics.median(times), min(cpu)


def _demo(workdir: Path) -> tuple[Path, str]:
    """A 60-account demo workspace with one week of history, and one of its accounts."""
    folder = workdir / "startup-demo"
    if not (folder / "vitalsign.yml").exists():
        shutil.rmtree(folder, ignore_errors=True)
        workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*CLI, "demo", str(folder), "--accounts", "60", "--weeks", "1"],
            check=True,
            capture_output=True,
        )
    return folder, "acct-000030"


def main() -> None:
    """Time the commands and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    folder, account = _demo(args.workdir.resolve())
    runs: list[tuple[str, list[str], bool]] = [
        ("python -c pass", [sys.executable, "-c", "pass"], False),
        ("python -c 'import vitalsign.cli'", [sys.executable, "-c", "import vitalsign.cli"], False),
        ("vitalsign --help", [*CLI, "--help"], True),
        ("vitalsign check --help", [*CLI, "check", "--help"], True),
        ("vitalsign report --help", [*CLI, "report", "--help"], True),
        ("vitalsign explain --help", [*CLI, "explain", "--help"], True),
        ("vitalsign check (the workspace model)", [*CLI, "check"], False),
        ("vitalsign report", [*CLI, "report"], False),
        (f"vitalsign explain {account}", [*CLI, "explain", account], False),
    ]
    table = Table(title=f"CLI startup, {args.repeat} fresh processes each")
    columns = (
        "command",
        "best s",
        "median s",
        "CPU s",
        "best × python -c pass",
        f"under {TARGET_SECONDS:g} s",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "command" else "right")
    baseline = None
    for label, argv, targeted in runs:
        best, median, cpu = _seconds(argv, args.repeat, folder)
        baseline = baseline or best
        verdict = ("yes" if best < TARGET_SECONDS else "NO") if targeted else ""
        table.add_row(
            label, f"{best:.2f}", f"{median:.2f}", f"{cpu:.2f}", f"{best / baseline:.0f}", verdict
        )
    Console().print(table)
    Console().print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
