"""A served copy of the web tests' world, for tests that activate models (the shared one stays).

Activating a model replaces the workspace's model file: done on the shared world, it would
change what every later web test sees. The copy has the same users and tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import ServedApp, World, WorldTemplate
from vitalsign.web import WebSettings, create_app
from vitalsign.web.admin_models import Previews


@contextmanager
def served_copy(world: World, template: WorldTemplate, folder: Path) -> Iterator[World]:
    """Copy the world as built (not as earlier tests left it) into `folder`; serve it as a World."""
    workspace, _, _ = template.copy(folder / "ws")
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
