"""One DuckDB transaction as a context manager: commit on success, roll back on any error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def transaction(connection: Any) -> Iterator[Any]:
    """Run the block in one transaction on `connection` (the raw DuckDB connection).

    A COMMIT that fails (a write conflict found at commit) has rolled back already, so its
    error is raised as it is, not hidden behind a failing ROLLBACK.

    >>> with transaction(ws.duckdb) as con:  # doctest: +SKIP
    ...     con.execute("UPDATE alerts SET status = 'resolved' WHERE alert_id = 'x'")
    """
    connection.execute("BEGIN TRANSACTION")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
