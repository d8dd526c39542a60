"""A served copy of the web tests' world, for tests that activate models (the shared one stays).

Activating a model replaces the workspace's model file: done on the shared world, it would
change what every later web test sees. The copy has the same users and tokens.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from conftest import ServedApp, World
from vitalsign.store.workspace import open_workspace
from vitalsign.web import WebSettings, create_app
from vitalsign.web.admin_models import Previews


@contextmanager
def served_copy(world: World, folder: Path) -> Iterator[World]:
    """Copy the world's workspace into `folder` and serve it; yield it as a World."""
    with suppress(duckdb.Error):  # a transaction still open: the write-ahead log is copied too
        world.workspace.duckdb.cursor().execute("CHECKPOINT")
    root = folder / "ws"
    shutil.copytree(world.workspace.root, root)
    workspace = open_workspace(root)
    app = create_app(workspace, WebSettings(page_size=20, serving_cache=False))
    app.state.model_previews = Previews(dates=2, replicates=20)  # the comparison, kept small
    try:
        with ServedApp(app) as served:
            yield dataclasses.replace(world, workspace=workspace, url=served.url)
    finally:
        workspace.close()


def heavier_usage(text: str, name: str) -> str:
    """The model text with the usage group weighing 4 instead of 2, renamed `name`."""
    assert "name: default\n" in text and "weight: 2\n" in text
    return text.replace("name: default\n", f"name: {name}\n", 1).replace(
        "weight: 2\n", "weight: 4\n", 1
    )
