"""The exceptions vitalsign raises for a user's mistake.

    VitalsignError            anything the user can fix; the CLI prints it as one line
    ├── ModelError            a health-model file is wrong (file:line key: what, how to fix)
    ├── WorkspaceError        the workspace or its config is missing or wrong
    ├── WriteConflictError    another writer kept changing the same rows; try again
    ├── IngestError           an input file or mapping cannot be loaded
    ├── SnapshotError         a requested snapshot or account does not exist
    ├── AlertError            alerts.yml is wrong, or an alert, task or override is unknown
    ├── BacktestError         a backtest, calibration or diff lacks outcomes, history or churners
    └── UserError             a web user, role, password or API token is unknown or invalid

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class VitalsignError(Exception):
    """A mistake the user can fix; the message says where and how."""


class ModelError(VitalsignError):
    """A health-model file is invalid."""


class WorkspaceError(VitalsignError):
    """The workspace folder or its config is missing or invalid."""


class WriteConflictError(VitalsignError):
    """Another writer in the same workspace kept changing the rows a write needed."""


class IngestError(VitalsignError):
    """An input file or its column mapping cannot be loaded."""


class SnapshotError(VitalsignError):
    """A requested snapshot, date or account is not in the history."""


class AlertError(VitalsignError):
    """alerts.yml is invalid, or an alert, task or override id is unknown."""


class BacktestError(VitalsignError):
    """A backtest, calibration or model diff lacks what it needs (outcomes, history, churners)."""


class UserError(VitalsignError):
    """A web user, role, password or API token is unknown or invalid."""
