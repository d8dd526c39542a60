"""The quarterly review on a demo world whose key actions jump in the last quarter.

Builds the world of tests/analytics/test_review.py (seed 11, snapshots every 28 days,
dashboard views renamed to reports created from 120 days before the last snapshot, so
`key_actions_30d` quadruples in the last quarter) and runs `run_review` twice: a quarter
and a bit before the end (without a proposal) and at the end (with one). Prints each
review's PSI of the shifted and of an unchanged signal, the backtest's ROC-AUC, the
comparison with the previous review and the CPU time. Figures: docs/backtest.md,
"Quarterly review".

    python bench/review.py [--accounts 250] [--folder /tmp/review-bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from pathlib import Path

from vitalsign.analytics.review import run_review
from vitalsign.demo.world import generate_world, write_world
from vitalsign.engine.run import backfill, date_range
from vitalsign.store.workspace import init_workspace


def main() -> None:
    """Build the world, run both reviews, print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=250)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/review-bench"))
    args = parser.parse_args()
    world = generate_world(accounts=args.accounts, seed=11)
    dates = date_range(world.start + dt.timedelta(days=120), world.end, 28)
    events = world.tables["events"]
    since = dt.datetime.combine(dates[-1] - dt.timedelta(days=120), dt.time())
    events.loc[(events["event"] == "dashboard_view") & (events["timestamp"] >= since), "event"] = (
        "report_created"
    )
    shutil.rmtree(args.folder, ignore_errors=True)
    workspace = init_workspace(args.folder)
    write_world(world, workspace.duckdb)
    backfill(workspace, dates, workspace.load_model(), show_progress=False)
    for day, propose in ((dates[-5], False), (None, True)):
        started = time.process_time()
        review = run_review(workspace, as_of=day, propose=propose)
        drift = {d.signal: d for d in review.signal_drift}
        shifted, unchanged = drift["key_actions_30d"], drift["urgent_tickets_90d"]
        compared = review.comparison()
        print(
            f"review as of {review.as_of} ({'with' if propose else 'without'} a proposal): "
            f"{time.process_time() - started:.1f} s CPU; key_actions_30d PSI "
            f"{shifted.psi:.3f} ({shifted.level}), urgent_tickets_90d PSI {unchanged.psi:.3f} "
            f"({unchanged.level}); ROC-AUC {review.backtest.roc_auc if review.backtest else '-'}"
            + (f"; against {compared['as_of']}: {compared['roc_auc']}" if compared else "")
        )
    workspace.close()


if __name__ == "__main__":
    main()
