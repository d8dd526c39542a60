"""The web app: FastAPI pages and REST API over a workspace (docs/web.md, docs/api.md).

>>> from vitalsign.web import create_app  # doctest: +SKIP
>>> app = create_app(vs.open_workspace("acme"))  # doctest: +SKIP
"""

from vitalsign.web.app import create_app
from vitalsign.web.state import WebSettings

__all__ = ["WebSettings", "create_app"]
