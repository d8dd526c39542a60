"""vitalsign: explainable customer-health scoring for B2B SaaS customer-success teams.

The Python API a notebook user calls; the CLI and the web app are shells over it.
Names are imported on first use, so `import vitalsign` (and the CLI) start fast.

>>> import vitalsign as vs  # doctest: +SKIP
>>> ws = vs.open_workspace("acme")  # doctest: +SKIP
>>> vs.score(ws, datetime.date(2025, 6, 2))  # doctest: +SKIP
>>> vs.explain_account(ws.duckdb, "default", "acct-0042").score  # doctest: +SKIP
>>> vs.account_timeline(ws.duckdb, "acct-0042", "default", kinds={"note"})  # doctest: +SKIP

Alerts and tasks live in `vitalsign.alerts` (docs/alerts.md); backtests and calibration in
`vitalsign.analytics` (docs/backtest.md).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from vitalsign.errors import (
    IngestError,
    ModelError,
    SnapshotError,
    VitalsignError,
    WorkspaceError,
)

if TYPE_CHECKING:
    from vitalsign.analytics.backtest import run_backtest
    from vitalsign.analytics.calibrate import calibrate
    from vitalsign.analytics.contacts import account_contacts
    from vitalsign.analytics.diff import diff_models
    from vitalsign.analytics.expansion_report import run_growth_backtest
    from vitalsign.analytics.outcomes import derive_outcomes
    from vitalsign.analytics.portfolio import PortfolioReport, portfolio_report
    from vitalsign.analytics.renewals import renewals_report
    from vitalsign.analytics.review import run_review
    from vitalsign.analytics.timeline import account_timeline
    from vitalsign.engine.explain import Explanation, explain_account
    from vitalsign.engine.rescore import record_override
    from vitalsign.engine.run import backfill, compute_scores, date_range, score
    from vitalsign.engine.scoring import ScoredFrame
    from vitalsign.ingest.files import load_file
    from vitalsign.model import HealthModel, LoadedModel, load_model, parse_model
    from vitalsign.store.expansion import expansion_candidates
    from vitalsign.store.notes import add_note, list_notes
    from vitalsign.store.overrides import add_override
    from vitalsign.store.workspace import Workspace, init_workspace, open_workspace

_LAZY = {
    "run_backtest": "vitalsign.analytics.backtest",
    "calibrate": "vitalsign.analytics.calibrate",
    "account_contacts": "vitalsign.analytics.contacts",
    "renewals_report": "vitalsign.analytics.renewals",
    "run_review": "vitalsign.analytics.review",
    "account_timeline": "vitalsign.analytics.timeline",
    "add_note": "vitalsign.store.notes",
    "list_notes": "vitalsign.store.notes",
    "diff_models": "vitalsign.analytics.diff",
    "run_growth_backtest": "vitalsign.analytics.expansion_report",
    "expansion_candidates": "vitalsign.store.expansion",
    "derive_outcomes": "vitalsign.analytics.outcomes",
    "PortfolioReport": "vitalsign.analytics.portfolio",
    "portfolio_report": "vitalsign.analytics.portfolio",
    "Explanation": "vitalsign.engine.explain",
    "explain_account": "vitalsign.engine.explain",
    "record_override": "vitalsign.engine.rescore",
    "backfill": "vitalsign.engine.run",
    "compute_scores": "vitalsign.engine.run",
    "date_range": "vitalsign.engine.run",
    "score": "vitalsign.engine.run",
    "ScoredFrame": "vitalsign.engine.scoring",
    "load_file": "vitalsign.ingest.files",
    "HealthModel": "vitalsign.model",
    "LoadedModel": "vitalsign.model",
    "load_model": "vitalsign.model",
    "parse_model": "vitalsign.model",
    "add_override": "vitalsign.store.overrides",
    "Workspace": "vitalsign.store.workspace",
    "init_workspace": "vitalsign.store.workspace",
    "open_workspace": "vitalsign.store.workspace",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vitalsign' has no attribute {name!r}")


__version__ = "0.1.0"
__all__ = [
    "Explanation",
    "HealthModel",
    "IngestError",
    "LoadedModel",
    "ModelError",
    "PortfolioReport",
    "ScoredFrame",
    "SnapshotError",
    "VitalsignError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "account_contacts",
    "account_timeline",
    "add_note",
    "add_override",
    "backfill",
    "calibrate",
    "compute_scores",
    "date_range",
    "derive_outcomes",
    "diff_models",
    "expansion_candidates",
    "explain_account",
    "init_workspace",
    "list_notes",
    "load_file",
    "load_model",
    "open_workspace",
    "parse_model",
    "portfolio_report",
    "record_override",
    "renewals_report",
    "run_backtest",
    "run_growth_backtest",
    "run_review",
    "score",
]
