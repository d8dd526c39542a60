"""Retry a write that lost a DuckDB write-write conflict to another writer in the process.

DuckDB lets several transactions of one process write at once and aborts a write to a row
(and column) that another transaction has changed and not yet committed ("Conflict on
update!"). In `vitalsign serve` the scheduled daily job and the people using the app share
the database: resolving an alert while someone's acknowledgement of it is being saved is
such a conflict. Each unit of work retried here is one transaction (rolled back when it
fails) that may safely run again, so retrying after a short wait is all it takes; a
conflict that outlasts the retries becomes a `WriteConflictError` that says to try again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import duckdb

from vitalsign.errors import WriteConflictError

log = logging.getLogger("vitalsign")
T = TypeVar("T")

RETRY_DELAYS = (0.2, 1.0, 3.0)
"""Seconds to wait before each retry: a person's write is over in milliseconds."""


def is_write_conflict(error: BaseException) -> bool:
    """Whether `error` is DuckDB aborting a transaction that changed a row another changed."""
    return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()


def retry_on_conflict(
    action: Callable[[], T],
    what: str,
    delays: Sequence[float] = RETRY_DELAYS,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Run `action`; after a write conflict, wait and run it again, once per delay.

    `action` must be one transaction that rolls back on failure and may run twice (the
    daily job's score, alerts and digest steps; an outbox record). `what` names it in the
    log and in the final error.
    """
    retries = 0
    while True:
        try:
            return action()
        except duckdb.TransactionException as error:
            if not is_write_conflict(error):
                raise
            if retries == len(delays):
                raise WriteConflictError(
                    f"{what}: another writer kept changing the same rows ({error}); "
                    f"gave up after {retries + 1} attempts. Run it again in a moment."
                ) from error
            delay = delays[retries]
            retries += 1
            log.warning("%s: write conflict (%s); retry %d in %.1f s", what, error, retries, delay)
            if on_retry is not None:
                on_retry(retries, error)
            time.sleep(delay)
