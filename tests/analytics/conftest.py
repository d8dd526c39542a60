"""A small demo world with a scored history, shared by the analytics tests (built once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from histories import ACCOUNTS, BAD_MODEL, SEED, build

from vitalsign.demo.world import World, generate_world
from vitalsign.engine.run import backfill
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace


@pytest.fixture(scope="session")
def demo_world() -> World:
    """A small demo world whose churn has causes in the data."""
    return generate_world(accounts=ACCOUNTS, seed=SEED)


@pytest.fixture(scope="session")
def demo_workspace(
    tmp_path_factory: pytest.TempPathFactory, demo_world: World
) -> Iterator[Workspace]:
    """The demo world with the histories of the starter model and of models/bad.yml.

    Shared by many tests: read it, never change it.
    """
    workspace = build(tmp_path_factory.mktemp("demo") / "ws", demo_world)
    (workspace.root / "models" / "bad.yml").write_text(BAD_MODEL.read_text())
    bad = workspace.load_model("models/bad.yml")
    dates = sorted({d for d in workspace.duckdb.execute(
        "SELECT DISTINCT snapshot_date FROM scores").df()["snapshot_date"].dt.date})  # fmt: skip
    backfill(workspace, dates, bad, show_progress=False)
    yield workspace
    workspace.close()


@pytest.fixture
def bad_model(demo_workspace: Workspace) -> LoadedModel:
    """A deliberately bad model of the demo world, whose history is stored too."""
    return demo_workspace.load_model("models/bad.yml")
