"""The web app's settings and shared state: the workspace, its model, and the snapshot catalog."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from vitalsign.model.loader import LoadedModel
from vitalsign.store.sso_config import SsoConfig
from vitalsign.store.workspace import WebConfig, Workspace
from vitalsign.web.backtest_summary import Backtests
from vitalsign.web.catalog import CatalogView, SnapshotCatalog
from vitalsign.web.serving_cache import ServingCache, ServingData
from vitalsign.web.throttle import LoginThrottle


@dataclass(frozen=True)
class WebSettings:
    """How the app runs; `vitalsign serve` sets these from its options."""

    secure_cookies: bool = False  # set behind HTTPS so browsers send the cookies only over TLS
    session_hours: float = 12.0
    page_size: int = 50
    max_page_size: int = 500
    serving_cache: bool = True  # keep histories and the latest snapshot in memory
    base_url: str | None = None  # links in pages and redirects; None: paths (never the Host)
    login_attempts: int = 5  # wrong passwords in a row before a user is locked out
    login_attempts_per_address: int = 20  # wrong passwords from one address within `lockout`
    lockout_seconds: float = 900.0
    sso: SsoConfig | None = None  # OpenID Connect sign-in (web/sso.py); None: passwords only

    @classmethod
    def from_config(cls, config: WebConfig, **options: Any) -> WebSettings:
        """Return the settings of vitalsign.yml `web:`, with `options` (set, not None) winning."""
        values: dict[str, Any] = {
            "base_url": config.base_url,
            "login_attempts": config.login_attempts,
            "login_attempts_per_address": config.login_attempts_per_address,
            "lockout_seconds": config.lockout_seconds,
            "sso": config.sso,
        }
        values.update({k: v for k, v in options.items() if v is not None})
        return cls(**values)


@dataclass
class WebState:
    """What every request shares; per-request work uses its own cursor from `cursor()`."""

    workspace: Workspace
    settings: WebSettings
    catalog: SnapshotCatalog = field(default_factory=SnapshotCatalog)
    backtests: Backtests = field(default_factory=Backtests)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _model: LoadedModel | None = field(default=None, repr=False)
    _model_stamp: tuple[int, int] | None = field(default=None, repr=False)
    serving: ServingCache = field(init=False, repr=False)
    logins: LoginThrottle = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.serving = ServingCache(self.cursor)
        self.logins = LoginThrottle(
            self.settings.login_attempts,
            self.settings.login_attempts_per_address,
            self.settings.lockout_seconds,
        )

    def cursor(self) -> Any:
        """Return a new DuckDB cursor on the workspace database (one per request)."""
        with self._lock:
            return self.workspace.duckdb.cursor()

    def model(self) -> LoadedModel:
        """Return the workspace's model, re-read when its file changes."""
        path = self.workspace.model_path
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._model is None or stamp != self._model_stamp:
                self._model = self.workspace.load_model()
                self._model_stamp = stamp
            return self._model

    def serving_data(self, catalog: CatalogView, model_name: str) -> ServingData | None:
        """Return the in-memory data of the catalog's version, if built (else start a build)."""
        if not self.settings.serving_cache:
            return None
        return self.serving.current(catalog.version, model_name)


def web_state(request: Request) -> WebState:
    """Return the WebState of the app serving `request`."""
    state: WebState = request.app.state.web
    return state
