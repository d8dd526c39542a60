"""The web app: FastAPI pages and REST API over a workspace (docs/web.md, docs/api.md).

>>> from vitalsign.web import create_app  # doctest: +SKIP
>>> app = create_app(vs.open_workspace("acme"))  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitalsign.web.app import create_app
    from vitalsign.web.state import WebSettings

_LAZY = {"create_app": "vitalsign.web.app", "WebSettings": "vitalsign.web.state"}

__all__ = ["WebSettings", "create_app"]


def __getattr__(name: str) -> Any:
    """Import a public name on first use, so the CLI starts without FastAPI."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
