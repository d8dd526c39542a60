"""Insert data frames into canonical tables in one transaction, filling absent columns."""

from __future__ import annotations

from typing import Any

import pandas as pd

from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.store.transaction import transaction


def write_tables(connection: Any, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Append each frame to the same-named canonical table, all or nothing; return row counts.

    Columns a frame lacks are left empty; columns the table does not have are an error.
    """
    counts: dict[str, int] = {}
    with transaction(connection):
        for name, frame in tables.items():
            table = CANONICAL_TABLES[name]
            extra = set(frame.columns) - set(table.column_names)
            if extra:
                raise ValueError(f"{name}: no such columns {sorted(extra)}")
            present = [c for c in table.column_names if c in frame.columns]
            connection.register("_dataset_rows", frame[present])
            try:
                columns = ", ".join(present)
                connection.execute(
                    f"INSERT INTO {name} ({columns}) SELECT {columns} FROM _dataset_rows"
                )
            finally:
                connection.unregister("_dataset_rows")
            counts[name] = len(frame)
    return counts
