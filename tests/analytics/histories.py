"""Helpers that build demo worlds with a scored history for the analytics tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from vitalsign.analytics.outcomes import Outcomes
from vitalsign.demo.world import World, write_world
from vitalsign.engine.run import backfill, date_range
from vitalsign.store.workspace import Workspace, init_workspace

ACCOUNTS = 400
SEED = 5
EVERY_DAYS = 21
FIXTURES = Path(__file__).parents[1] / "fixtures"
BAD_MODEL = FIXTURES / "models" / "demo_bad.yml"


def snapshot_dates(world: World, every_days: int = EVERY_DAYS) -> list[dt.date]:
    """Every three weeks from four months after the world starts to its end."""
    return date_range(world.start + dt.timedelta(days=120), world.end, every_days)


def build(folder: Path, world: World, every_days: int = EVERY_DAYS) -> Workspace:
    """A workspace holding `world`, with a backfilled history of its starter model."""
    workspace = init_workspace(folder)
    write_world(world, workspace.duckdb)
    dates = snapshot_dates(world, every_days)
    backfill(workspace, dates, workspace.load_model(), show_progress=False)
    return workspace


def permuted(outcomes: Outcomes, seed: int = 99) -> Outcomes:
    """The same outcomes given to randomly chosen accounts: churn unrelated to any score."""
    rng = np.random.default_rng(seed)
    frame = outcomes.frame.copy()
    keys = np.array(sorted(set(frame["account_id"]) | set(outcomes.activity["account_id"])))
    mapping = dict(zip(keys, rng.permutation(keys), strict=True))
    frame["account_id"] = frame["account_id"].map(mapping)
    activity = outcomes.activity.assign(account_id=outcomes.activity["account_id"].map(mapping))
    return Outcomes(frame, "permuted", outcomes.observed_until, activity)
