"""vitalsign: explainable customer-health scoring for B2B SaaS customer-success teams.

The Python API a notebook user calls; the CLI and the web app are shells over it.

>>> import vitalsign as vs  # doctest: +SKIP
>>> ws = vs.open_workspace("acme")  # doctest: +SKIP
>>> vs.score(ws, datetime.date(2025, 6, 2))  # doctest: +SKIP
>>> vs.explain_account(ws.duckdb, "default", "acct-0042").score  # doctest: +SKIP
"""

from vitalsign.analytics.portfolio import PortfolioReport, portfolio_report
from vitalsign.engine.explain import Explanation, explain_account
from vitalsign.engine.run import backfill, compute_scores, date_range, score
from vitalsign.engine.scoring import ScoredFrame
from vitalsign.errors import (
    IngestError,
    ModelError,
    SnapshotError,
    VitalsignError,
    WorkspaceError,
)
from vitalsign.ingest.files import LoadReport, load_file
from vitalsign.model import HealthModel, LoadedModel, load_model, parse_model
from vitalsign.store.overrides import add_override
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace

__version__ = "0.1.0"
__all__ = [
    "Explanation",
    "HealthModel",
    "IngestError",
    "LoadReport",
    "LoadedModel",
    "ModelError",
    "PortfolioReport",
    "ScoredFrame",
    "SnapshotError",
    "VitalsignError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "add_override",
    "backfill",
    "compute_scores",
    "date_range",
    "explain_account",
    "init_workspace",
    "load_file",
    "load_model",
    "open_workspace",
    "parse_model",
    "portfolio_report",
    "score",
]
