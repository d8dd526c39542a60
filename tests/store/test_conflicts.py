"""Write conflicts between two transactions of one DuckDB database: retried, then explained."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from vitalsign.errors import WriteConflictError
from vitalsign.store.conflicts import is_write_conflict, retry_on_conflict


@pytest.fixture
def database(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "conflicts.duckdb"))
    connection.execute("CREATE TABLE alerts (alert_id VARCHAR PRIMARY KEY, status VARCHAR)")
    connection.execute("INSERT INTO alerts VALUES ('a-1', 'open'), ('a-2', 'open')")
    yield connection
    connection.close()


def _holding_row(database: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another writer (a person acknowledging) whose transaction has changed row a-1."""
    holder = database.cursor()
    holder.execute("BEGIN TRANSACTION")
    holder.execute("UPDATE alerts SET status = 'acknowledged' WHERE alert_id = 'a-1'")
    return holder


def _resolve(database: duckdb.DuckDBPyConnection, attempts: list[int]) -> str:
    """One transaction (the daily job's) that changes row a-1 and rolls back on failure."""
    attempts.append(1)
    cursor = database.cursor()
    cursor.execute("BEGIN TRANSACTION")
    try:
        cursor.execute("UPDATE alerts SET status = status || '+seen' WHERE alert_id = 'a-1'")
        cursor.execute("COMMIT")
    except duckdb.Error:
        cursor.execute("ROLLBACK")
        raise
    row = cursor.execute("SELECT status FROM alerts WHERE alert_id = 'a-1'").fetchone()
    return str(row[0]) if row else ""


def test_a_write_that_meets_a_conflict_runs_again_once_the_other_writer_is_done(
    database: duckdb.DuckDBPyConnection,
) -> None:
    holder = _holding_row(database)
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    attempts: list[int] = []
    retried: list[int] = []
    status = retry_on_conflict(
        lambda: _resolve(database, attempts),
        "resolving a-1",
        delays=(0.2, 0.2, 0.2, 0.2, 0.2),
        on_retry=lambda n, _: retried.append(n),
    )
    assert status == "acknowledged+seen"  # both writes are kept, in order
    assert len(attempts) >= 2 and retried == list(range(1, len(attempts)))


def test_a_conflict_that_outlasts_the_retries_says_what_and_how_to_go_on(
    database: duckdb.DuckDBPyConnection,
) -> None:
    holder = _holding_row(database)
    attempts: list[int] = []
    with pytest.raises(WriteConflictError) as raised:
        retry_on_conflict(lambda: _resolve(database, attempts), "resolving a-1", delays=(0, 0))
    holder.execute("ROLLBACK")
    assert len(attempts) == 3
    message = str(raised.value)
    assert message.startswith("resolving a-1: another writer kept changing the same rows")
    assert "gave up after 3 attempts" in message and "Run it again" in message
    row = database.execute("SELECT status FROM alerts WHERE alert_id = 'a-1'").fetchone()
    assert row == ("open",)  # neither write was kept


def test_other_transaction_errors_are_not_retried(database: duckdb.DuckDBPyConnection) -> None:
    attempts: list[int] = []

    def nested() -> None:
        attempts.append(1)
        database.execute("BEGIN TRANSACTION")
        try:
            database.execute("BEGIN TRANSACTION")  # a bug, not a conflict
        finally:
            database.execute("ROLLBACK")

    with pytest.raises(duckdb.TransactionException) as raised:
        retry_on_conflict(nested, "nested", delays=(0, 0))
    assert attempts == [1] and not is_write_conflict(raised.value)
