"""Shared fixtures: a fresh workspace, the tiny world, the tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.store.workspace import Workspace, init_workspace
from world import FIXTURES, load_tiny_world


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An empty, freshly initialised workspace."""
    ws = init_workspace(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def tiny_model() -> LoadedModel:
    """The hand-computed tiny model."""
    return load_model(FIXTURES / "models" / "tiny.yml")


@pytest.fixture
def tiny_workspace(workspace: Workspace) -> Workspace:
    """A workspace holding the tiny world."""
    load_tiny_world(workspace.duckdb)
    return workspace
