"""`vitalsign run` on a demo workspace scores as of the demo data's end (trial 12, item 4).

A demo's data stopped when its world was generated; scored today, every account would be
`insufficient_data`. Only a folder `vitalsign demo` built (its mark file) is treated so.
"""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from vitalsign.alerts.daily import run_daily
from vitalsign.store.data_end import data_end
from vitalsign.store.output_paths import DEMO_MARK
from vitalsign.store.workspace import Workspace


def test_run_on_a_demo_scores_its_data_end_and_elsewhere_today(
    tiny_workspace: Workspace,
) -> None:
    quiet = Console(file=io.StringIO())
    end = data_end(tiny_workspace.duckdb).at.date()
    a_year_later = end + dt.timedelta(days=365)
    plain = run_daily(
        tiny_workspace, sync=False, today=a_year_later, show_progress=False, console=quiet
    )
    assert plain.as_of == a_year_later  # not a demo: today, its stale tables said
    (tiny_workspace.root / DEMO_MARK).write_text("built by vitalsign demo\n", encoding="utf-8")
    demo = run_daily(
        tiny_workspace, sync=False, today=a_year_later, show_progress=False, console=quiet
    )
    assert demo.ok and demo.as_of == end
    detail = demo.step("score").detail
    assert f"whose data ends on {end}: scoring as of {end}" in detail
    assert "--as-of" in detail
    bands = tiny_workspace.duckdb.execute(
        "SELECT band FROM scores WHERE snapshot_date = ?", [end]
    ).fetchall()
    assert bands and any(band != "insufficient_data" for (band,) in bands)
