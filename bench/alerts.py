"""Alert volume on the demo's replayed year: the starter rules before and after steadying.

Both runs replay every weekly snapshot of the same demo workspace (`vitalsign demo`) with
`alerts evaluate --from --to --quiet`'s function and measure with `alert_stats` (what
`vitalsign alerts stats` prints):

- **before**: the starter alerts.yml as it behaved before hysteresis, persistence, the
  baseline and reminders (`baseline: false`, `steady: {persistence: 1, margin: 0}`, the CSM
  rating rule as an alert);
- **after**: the starter alerts.yml as shipped.

It prints the alerts opened and resolved per weekly snapshot, the churners alerted within
the horizon before churning, the ratios after/before, and the churners the "before" rules
alerted that the "after" rules do not. Figures are recorded in docs/alerts.md.

    .venv/bin/python bench/alerts.py                       # builds a 3,000-account demo
    .venv/bin/python bench/alerts.py --demo /path/to/demo  # copies an existing demo workspace
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from vitalsign.alerts.evaluation import evaluate_history
from vitalsign.alerts.loading import parse_alert_config
from vitalsign.alerts.stats import CHURN_DATES, alert_stats
from vitalsign.demo.build import build_demo
from vitalsign.store.workspace import open_workspace

BEFORE = """baseline: false
steady: {persistence: 1, margin: 0}
"""


def _starter() -> str:
    return resources.files("vitalsign.alerts").joinpath("starter_alerts.yml").read_text("utf-8")


def _before() -> str:
    text = _starter().replace("baseline: true\n", BEFORE)
    return text.replace("    days: 90d\n    severity: info", "    days: 90d\n    reminder: false")


def _alerted_churners(connection: Any, horizon: int) -> set[str]:
    rows = connection.execute(
        f"""WITH {CHURN_DATES}
        SELECT c.account_id FROM churn c WHERE EXISTS (
            SELECT 1 FROM alerts a WHERE a.account_id = c.account_id
              AND a.snapshot_date <= c.churned_at
              AND a.snapshot_date > c.churned_at - to_days(?::INTEGER))""",
        [horizon],
    ).fetchall()
    return {str(r[0]) for r in rows}


def replay(demo: Path, folder: Path, text: str, horizon: int) -> dict[str, Any]:
    """Copy the demo into `folder`, replay its year with `text` as alerts.yml, measure."""
    shutil.copytree(demo, folder)
    (folder / "alerts.yml").write_text(text, encoding="utf-8")
    workspace = open_workspace(folder)
    model = workspace.load_model()
    config = parse_alert_config(text, "alerts.yml", model.spec)
    connection = workspace.duckdb
    dates = [
        r[0] for r in connection.execute("SELECT DISTINCT snapshot_date FROM scores").fetchall()
    ]
    started = time.perf_counter()
    evaluate_history(connection, config, model, min(dates), max(dates), notify=False)
    seconds = time.perf_counter() - started
    stats = alert_stats(connection, horizon_days=horizon)
    result = {
        "alerts": stats.alerts,
        "opened": stats.opened_per_run,
        "resolved": stats.resolved_per_run,
        "churners": stats.churners,
        "alerted": _alerted_churners(connection, horizon),
        "reminders": connection.execute("SELECT count(*) FROM reminders").fetchone()[0],
        "seconds": seconds,
        "line": stats.per_run_line(),
    }
    workspace.close()
    return result


def main(argv: list[str] | None = None) -> int:
    """Run both replays and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="an existing demo workspace to copy")
    parser.add_argument("--accounts", type=int, default=3000, help="accounts of a built demo")
    parser.add_argument("--horizon", type=int, default=90, help="churn horizon in days")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vs-bench-alerts-") as tmp:
        demo = args.demo
        if demo is None:
            demo = Path(tmp) / "demo"
            build_demo(demo, accounts=args.accounts, seed=7, console=Console(file=io.StringIO()))
        before = replay(demo, Path(tmp) / "before", _before(), args.horizon)
        after = replay(demo, Path(tmp) / "after", _starter(), args.horizon)
    for name, run in (("before", before), ("after", after)):
        print(
            f"{name:6}: {run['alerts']} alerts in {len(run['opened'])} weekly snapshots; "
            f"{run['line']}; {len(run['alerted'])} of {run['churners']} churners alerted "
            f"within {args.horizon} days before churning; {run['reminders']} reminder rows; "
            f"replay {run['seconds']:.1f} s"
        )
    weekly_before = statistics.median(before["opened"])
    weekly_after = statistics.median(after["opened"])
    print(
        f"weekly alerts opened (median): {weekly_before:g} → {weekly_after:g}, "
        f"{weekly_before / max(weekly_after, 1e-9):.2f}× fewer; total "
        f"{before['alerts'] / max(after['alerts'], 1):.2f}× fewer"
    )
    lost = sorted(before["alerted"] - after["alerted"])
    gained = sorted(after["alerted"] - before["alerted"])
    print(
        f"churners alerted: {len(before['alerted'])} → {len(after['alerted'])} "
        f"({len(lost)} no longer alerted, {len(gained)} newly alerted)"
    )
    if lost:
        print("no longer alerted: " + ", ".join(lost[:20]) + (" …" if len(lost) > 20 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
