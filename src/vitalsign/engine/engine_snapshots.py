"""Copy stored snapshots into the scoring engine (`snapshots: workspace_and_engine`).

The workspace keeps every snapshot (explain, report, alerts and the web app read them
there); with `snapshots: workspace_and_engine` each date written is also copied into the
engine as `vitalsign_scores` and `vitalsign_score_items`, so BI tools next to the data can
read it. The copy is the workspace's rows, read back after their transaction committed:
on PostgreSQL the dates are replaced in one transaction; on Spark each (model, date)
partition is overwritten (atomic per date on a table format with commits, such as Delta or
Iceberg; on plain Parquet a failed write can leave a partial partition, which the next
run of the date replaces).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from vitalsign.engine.snapshots import ITEM_STORE_COLUMNS, SCORE_COLUMNS

ENGINE_TABLES = {"scores": "vitalsign_scores", "score_items": "vitalsign_score_items"}
COLUMNS = {"scores": SCORE_COLUMNS, "score_items": ITEM_STORE_COLUMNS}


def stored_rows(connection: Any, table: str, model_name: str, dates: Sequence[dt.date]) -> pa.Table:
    """The workspace's rows of `table` for the model's `dates`, as Arrow."""
    columns = ", ".join(COLUMNS[table])
    found = connection.execute(
        f"SELECT {columns} FROM {table} WHERE model_name = ? "
        "AND snapshot_date IN (SELECT UNNEST(?::DATE[])) ORDER BY snapshot_date, account_id",
        [model_name, list(dates)],
    ).arrow()
    return found.read_all() if hasattr(found, "read_all") else found


def publish_snapshots(
    workspace_connection: Any, engine: Any, model_name: str, dates: Sequence[dt.date]
) -> None:
    """Replace the model's `dates` in the engine's snapshot tables by the workspace's rows."""
    rows = {t: stored_rows(workspace_connection, t, model_name, dates) for t in ENGINE_TABLES}
    kind = getattr(engine, "name", "")
    if kind == "postgres":
        _publish_postgres(engine, rows, model_name, dates)
    elif kind == "pyspark":
        _publish_spark(engine, rows)
    else:
        raise NotImplementedError(f"no snapshot copy for the {kind!r} engine")


def _publish_postgres(
    engine: Any, rows: dict[str, pa.Table], model_name: str, dates: Sequence[dt.date]
) -> None:
    """Delete the dates and COPY the new rows in, in one transaction."""
    for table, target in ENGINE_TABLES.items():
        if target not in engine.list_tables():
            engine.create_table(target, schema=rows[table].schema)
    con = engine.con
    with con.transaction(), con.cursor() as cursor:
        for table, target in ENGINE_TABLES.items():
            cursor.execute(
                f"DELETE FROM {target} WHERE model_name = %s AND snapshot_date = ANY(%s)",
                [model_name, list(dates)],
            )
            names = ", ".join(COLUMNS[table])
            with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                for batch in rows[table].to_batches():
                    for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                        copy.write_row(row)


def _publish_spark(engine: Any, rows: dict[str, pa.Table]) -> None:
    """Overwrite each (model, date) partition of the engine's tables with the new rows."""
    session = engine._session
    session.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    for table, target in ENGINE_TABLES.items():
        keys = ["model_name", "snapshot_date"]  # partition columns come last for insertInto
        ordered = [c for c in COLUMNS[table] if c not in keys] + keys
        frame = session.createDataFrame(rows[table].select(ordered))  # Arrow: NULL stays NULL
        if not session.catalog.tableExists(target):
            frame.limit(0).write.partitionBy(*keys).format("parquet").saveAsTable(target)
        frame.write.insertInto(target, overwrite=True)
