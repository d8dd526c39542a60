"""The model page's data: the current model file, the models in the history, the backtest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vitalsign.web.accounts import plain
from vitalsign.web.backtest_summary import BacktestSummary
from vitalsign.web.state import WebState


@dataclass(frozen=True)
class ModelInfo:
    """What the model page shows."""

    name: str
    hash: str
    path: str
    text: str
    description: str
    signals: int
    bands: list[str]
    history: list[dict[str, Any]] = field(default_factory=list)
    backtest: BacktestSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "name": self.name,
            "hash": self.hash,
            "path": self.path,
            "text": self.text,
            "description": self.description,
            "signals": self.signals,
            "bands": self.bands,
            "history": self.history,
            "backtest": self.backtest.to_dict() if self.backtest else None,
        }


def model_history(connection: Any) -> list[dict[str, Any]]:
    """Return each (model name, model hash) in the score history with its first and last date."""
    rows = connection.execute(
        """SELECT model_name, model_hash, min(snapshot_date) AS first_snapshot,
                  max(snapshot_date) AS last_snapshot,
                  count(DISTINCT snapshot_date) AS snapshots
           FROM scores GROUP BY ALL ORDER BY first_snapshot, model_name"""
    ).fetchall()
    keys = ["model_name", "model_hash", "first_snapshot", "last_snapshot", "snapshots"]
    return [{k: plain(v) for k, v in zip(keys, r, strict=True)} for r in rows]


def start_backtest(connection: Any, state: WebState) -> BacktestSummary:
    """Start a backtest of the current model on the current history (see backtest_summary)."""
    version = state.catalog.at(connection).version
    return state.backtests.start(state.workspace, version, state.model().hash)


def model_summary(connection: Any, state: WebState) -> ModelInfo:
    """Gather the model page (the history part is cached per history version)."""
    loaded = state.model()
    path = loaded.path or state.workspace.model_path
    catalog = state.catalog.at(connection)
    history = catalog.memo(("model_history",), lambda: model_history(connection))
    return ModelInfo(
        name=loaded.name,
        hash=loaded.hash,
        path=str(path),
        text=path.read_text(encoding="utf-8"),
        description=loaded.spec.description,
        signals=len(loaded.spec.signals),
        bands=list(loaded.spec.band_names),
        history=history,
        backtest=state.backtests.get(catalog.version, loaded.hash),
    )
