"""Write conflicts between two transactions of one DuckDB database: retried, then explained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from vitalsign.errors import WriteConflictError
from vitalsign.store.conflicts import is_write_conflict, retry_on_conflict
from vitalsign.store.transaction import transaction


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
    try:
        with transaction(cursor):
            cursor.execute("UPDATE alerts SET status = status || '+seen' WHERE alert_id = 'a-1'")
        row = cursor.execute("SELECT status FROM alerts WHERE alert_id = 'a-1'").fetchone()
    finally:
        cursor.close()
    return str(row[0]) if row else ""


def test_a_write_that_meets_a_conflict_runs_again_once_the_other_writer_is_done(
    database: duckdb.DuckDBPyConnection,
) -> None:
    holder = _holding_row(database)
    attempts: list[int] = []

    def other_writer_commits(retry: int, error: BaseException) -> None:
        assert is_write_conflict(error) and retry == 1
        holder.execute("COMMIT")

    status = retry_on_conflict(
        lambda: _resolve(database, attempts),
        "resolving a-1",
        delays=(0.01, 0.01),
        on_retry=other_writer_commits,
    )
    holder.close()
    assert status == "acknowledged+seen"  # both writes are kept, in order
    assert len(attempts) == 2


def test_a_conflict_that_outlasts_the_retries_says_what_and_how_to_go_on(
    database: duckdb.DuckDBPyConnection,
) -> None:
    holder = _holding_row(database)
    attempts: list[int] = []
    with pytest.raises(WriteConflictError) as raised:
        retry_on_conflict(lambda: _resolve(database, attempts), "resolving a-1", delays=(0, 0))
    holder.execute("ROLLBACK")
    holder.close()
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


def test_a_commit_that_fails_raises_its_own_error_not_a_failed_rollback(
    database: duckdb.DuckDBPyConnection,
) -> None:
    first, second = database.cursor(), database.cursor()
    with pytest.raises(duckdb.Error) as raised, transaction(second), transaction(first):
        first.execute("INSERT INTO alerts VALUES ('a-3', 'open')")
        second.execute("INSERT INTO alerts VALUES ('a-3', 'open')")  # found at COMMIT
    assert "no transaction is active" not in str(raised.value)
    assert "a-3" in str(raised.value)
    assert database.execute("SELECT count(*) FROM alerts").fetchone() == (3,)
    first.close()
    second.close()
