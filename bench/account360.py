"""Account 360 benchmark: what the timeline page, the renewal card and the list's sparkline cost.

On a demo workspace (built once in `--workdir` and reused while its size matches, or any
workspace given with `--workspace`) it times, per random account, one part after another in
one process, in rounds that run each part once in a rotating order (the 1-minute load average
is printed: on a shared machine compare the parts of one run, not runs):

* the timeline of every kind, and each kind alone (`vitalsign.analytics.timeline`);
* the contacts with their last activity (`vitalsign.analytics.contacts`);
* what the timeline page reads: both, with two scans of the events or one (`event_summary`);
* the account page's renewal card (`vitalsign.web.timeline.account_360`: one query);
* one page of the account list (50 rows), with the sparkline's scores and without them (the
  list's query alone), and their ratio.

    .venv/bin/python bench/account360.py                    # 3,000 accounts, 26 weeks
    .venv/bin/python bench/account360.py --accounts 500 --weeks 8
    .venv/bin/python bench/account360.py --workspace acme
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vitalsign.analytics.contacts import account_contacts
from vitalsign.analytics.timeline import KINDS, account_timeline, event_summary
from vitalsign.demo.build import build_demo
from vitalsign.store.workspace import open_workspace
from vitalsign.web import accounts
from vitalsign.web.access import Principal
from vitalsign.web.timeline import renewal_summary
from vitalsign.web.users import WebUser

console = Console(highlight=False)


def _rounds(cases: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median ms of each case, run in rounds (each case once a round, the order rotating).

    Interleaving makes the ratios of one run fair on a shared machine whose load changes.
    """
    names = list(cases)
    for fn in cases.values():
        fn()  # warm
    took: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            cases[name]()
            took[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in took.items()}


def _page_data(con: object, account_id: str, model: str) -> object:
    """What the timeline page reads (web/timeline.py's timeline_context): one event scan."""
    events = event_summary(con, account_id)
    return account_timeline(con, account_id, model, events=events), account_contacts(
        con, account_id, events.last_seen
    )


def main() -> None:
    """Build or reuse the demo workspace, time each part, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    parser.add_argument("--workspace", type=Path, help="An existing workspace instead of a demo.")
    args = parser.parse_args()
    root = args.workspace or args.workdir / f"account360-{args.accounts}x{args.weeks}"
    if args.workspace is None and not (root / "vitalsign.yml").exists():
        shutil.rmtree(root, ignore_errors=True)
        console.print(f"building the demo workspace in {root} ...")
        build_demo(
            root,
            accounts=args.accounts,
            seed=7,
            weeks=args.weeks,
            console=Console(file=io.StringIO()),
        )
    workspace = open_workspace(root)
    con = workspace.duckdb
    model = workspace.load_model().name
    ids = [r[0] for r in con.execute("SELECT DISTINCT account_id FROM scores").fetchall()]
    dates = [
        r[0] for r in con.execute("SELECT DISTINCT snapshot_date FROM scores ORDER BY 1").fetchall()
    ]
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    rng = random.Random(7)
    admin = Principal(WebUser("bench", "admin", None, dt.datetime.now()), "token")

    def one(fn: Callable[[str], object]) -> Callable[[], object]:
        return lambda: fn(rng.choice(ids))

    def page(with_sparkline: bool) -> Callable[[], object]:
        def run() -> object:
            query = accounts.AccountQuery(page=rng.randint(1, max(1, len(ids) // 50)))
            if with_sparkline:
                return accounts.list_accounts(con, admin, model, dates[-1], dates[-2], query, dates)
            saved = accounts.recent_scores
            accounts.recent_scores = lambda *a, **k: {}  # type: ignore[assignment]
            try:
                return accounts.list_accounts(con, admin, model, dates[-1], dates[-2], query)
            finally:
                accounts.recent_scores = saved

        return run

    cases: dict[str, Callable[[], object]] = {
        "timeline, every kind": one(lambda a: account_timeline(con, a, model)),
        **{
            f"  {kind} alone": one(lambda a, k=kind: account_timeline(con, a, model, {k}))
            for kind in KINDS
        },
        "contacts with last activity": one(lambda a: account_contacts(con, a)),
        "timeline page: both, two event scans": one(
            lambda a: (account_timeline(con, a, model), account_contacts(con, a))
        ),
        "timeline page: both, one event scan": one(lambda a: _page_data(con, a, model)),
        "renewal card (account page)": one(lambda a: renewal_summary(con, a, dates[-1])),
        "account list page, no sparkline": page(False),
        "account list page, with sparkline": page(True),
    }
    medians = _rounds(cases, args.repeat)
    table = Table(
        title=f"{len(ids):,} accounts, {len(dates)} snapshots, {events:,} events "
        f"(median of {args.repeat})"
    )
    table.add_column("what")
    table.add_column("median ms", justify="right")
    for name, value in medians.items():
        table.add_row(name, f"{value:.1f}")
    console.print(table)
    base = medians["account list page, no sparkline"]
    ratio = medians["account list page, with sparkline"] / base
    console.print(f"the sparkline makes a list page {ratio:.2f}× as long")
    console.print(f"1-minute load average at the end: {os.getloadavg()[0]:.1f}")
    workspace.close()


if __name__ == "__main__":
    main()
