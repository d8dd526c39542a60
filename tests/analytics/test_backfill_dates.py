"""A model without snapshots is backtested on the active model's stored dates: like for like."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from histories import SEED, build
from typer.testing import CliRunner

from vitalsign.analytics.backfill_dates import WEEKS, backfill_plan
from vitalsign.cli import app
from vitalsign.demo.world import generate_world
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.store.workspace import Workspace


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A small demo world whose starter model (the active one) has a stored history."""
    workspace = build(tmp_path_factory.mktemp("c1") / "ws", generate_world(150, seed=SEED), 42)
    text = workspace.model_path.read_text()
    name = workspace.load_model().name
    (workspace.root / "models" / "candidate.yml").write_text(
        text.replace(f"name: {name}", "name: candidate", 1)
    )
    yield workspace
    workspace.close()


def test_a_backtest_of_a_new_model_backfills_the_active_models_dates(small: Workspace) -> None:
    active = snapshot_dates(small.duckdb, small.load_model().name)
    assert len(active) >= 4 and not snapshot_dates(small.duckdb, "candidate")
    args = ["backtest", "-m", "models/candidate.yml", "--bootstrap", "10", "--leak-dates", "0"]
    result = CliRunner().invoke(app, [*args, "-w", str(small.root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert snapshot_dates(small.duckdb, "candidate") == active
    said = " ".join(result.output.split())
    assert f"backfilling the {len(active)} stored snapshot dates of the active model" in said


def test_until_keeps_the_active_dates_up_to_it(small: Workspace) -> None:
    active = snapshot_dates(small.duckdb, small.load_model().name)
    candidate = small.load_model("models/candidate.yml")
    until = active[len(active) // 2]
    dates, why = backfill_plan(small, candidate, until, until)
    assert dates == [d for d in active if d <= until] and str(until) in why


def test_the_active_model_itself_falls_back_to_weekly_dates(small: Workspace) -> None:
    end = dt.date(2025, 6, 1)
    dates, why = backfill_plan(small, small.load_model(), end)
    assert len(dates) == WEEKS and dates[-1] == end - dt.timedelta(weeks=1)
    assert {b - a for a, b in itertools.pairwise(dates)} == {dt.timedelta(weeks=1)}
    assert f"{WEEKS} weekly dates to {dates[-1]}" in why
