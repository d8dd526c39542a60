"""The backtest summary on the model page, from `vitalsign.analytics.backtest.run_backtest`.

A backtest reads the whole score history and bootstraps its intervals: seconds to minutes, too
long for a page. An admin or manager starts one from the model page; it runs in a background
thread on its own cursor, and its summary is kept for the history version and model it was
run on. Until then the page says there is no backtest yet.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from vitalsign.errors import VitalsignError
from vitalsign.store.workspace import Workspace

log = logging.getLogger("vitalsign.web")
REPLICATES = 100  # bootstrap replicates for the page (the CLI defaults to 200)


@dataclass(frozen=True)
class BacktestSummary:
    """The headline numbers of a backtest of the current model (or why it failed)."""

    state: str  # running, done or failed
    started_at: dt.datetime
    horizon_days: int = 90
    roc_auc: str = ""
    pr_auc: str = ""
    base_rate: float | None = None
    monotone: bool | None = None
    bands: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = dict(self.__dict__)
        data["started_at"] = self.started_at.isoformat()
        return data


def _summary(report: Any, started: dt.datetime) -> BacktestSummary:
    keep = ["band", "rows", "churned", "churn_rate", "lift"]
    bands = [{k: row[k] for k in keep if k in row} for row in report.bands.to_dict("records")]
    return BacktestSummary(
        state="done",
        started_at=started,
        horizon_days=int(report.horizon_days),
        roc_auc=str(report.roc_auc),
        pr_auc=str(report.pr_auc),
        base_rate=float(report.base_rate),
        monotone=bool(report.monotone),
        bands=bands,
        notes=list(report.notes),
    )


class Backtests:
    """Backtest summaries by (history version, model hash); at most one run at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[tuple[Any, str], BacktestSummary] = {}

    def get(self, version: Any, model_hash: str) -> BacktestSummary | None:
        """Return the summary for this history and model, if one was started."""
        with self._lock:
            return self._results.get((version, model_hash))

    def start(self, workspace: Workspace, version: Any, model_hash: str) -> BacktestSummary:
        """Start a backtest in a background thread (unless one runs or is done already)."""
        from vitalsign.analytics.backtest import run_backtest

        key = (version, model_hash)
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._lock:
            if key in self._results and self._results[key].state != "failed":
                return self._results[key]
            running = BacktestSummary(state="running", started_at=started)
            self._results[key] = running
        view = workspace.on_new_cursor()

        def work() -> None:
            try:
                report = run_backtest(view, replicates=REPLICATES)
                result = _summary(report, started)
            except VitalsignError as exc:
                result = BacktestSummary(state="failed", started_at=started, error=str(exc))
            except Exception as exc:  # a bug: logged with its traceback, shown as failed
                log.exception("the backtest failed")
                message = f"unexpected error ({type(exc).__name__}); see the server log"
                result = BacktestSummary(state="failed", started_at=started, error=message)
            finally:
                view.close()
            with self._lock:
                self._results[key] = result

        threading.Thread(target=work, name="vitalsign-backtest", daemon=True).start()
        return running
