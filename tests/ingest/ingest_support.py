"""Helpers of the ingestion tests: free ports, counts, accounts."""

from __future__ import annotations

import socket
from pathlib import Path

from vitalsign.store.workspace import Workspace

SAMPLES = Path(__file__).parents[1] / "fixtures" / "formats"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def count(workspace: Workspace, sql: str) -> int:
    """Return the single integer a query gives."""
    return int(workspace.duckdb.execute(sql).fetchone()[0])


def add_account(workspace: Workspace, account_id: str, **columns: str) -> None:
    """Insert one account with a name and created_at, plus any other columns."""
    values = {"account_id": account_id, "name": account_id.title(), "created_at": "2023-01-01"}
    values.update(columns)
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    workspace.duckdb.execute(
        f"INSERT INTO accounts ({names}) VALUES ({marks})", list(values.values())
    )
