"""A small live workspace: two custom account fields and a CRM export that changes."""

from __future__ import annotations

from pathlib import Path

from vitalsign.ingest.files import load_file
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace

CONFIG = """\
backend: duckdb
database: vitalsign.duckdb
model: models/default.yml
account_fields:
  - {name: tier, type: string, description: CRM tier}
  - {name: integrations_ok, type: bool}
"""

HEADER = "id,name,since,owner,segment,seats,arr,renewal,tier,integrations,changed\n"
MAPPING = {
    "account_id": "id",
    "created_at": "since",
    "renewal_date": "renewal",
    "integrations_ok": "integrations",
    "updated_at": "changed",
}


def live_workspace(root: Path, model: str) -> Workspace:
    """Create a workspace with the custom fields and `model` as its default model."""
    created = init_workspace(root)
    (created.root / "vitalsign.yml").write_text(CONFIG, encoding="utf-8")
    (created.root / "models" / "default.yml").write_text(model, encoding="utf-8")
    created.close()
    return open_workspace(root)


def load_export(ws: Workspace, path: Path, rows: str) -> None:
    """Write a CRM export with `rows` (lines after the header) and ingest it into accounts."""
    path.write_text(HEADER + rows, encoding="utf-8")
    report = load_file(ws, path, "accounts", MAPPING)
    assert report.quarantined == 0, report
