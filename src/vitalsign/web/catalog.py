"""What is in the score history, cached until the `scores` table changes.

Listing the snapshot dates scans every score row (tens of milliseconds at 100,000 accounts ×
52 weeks), and so do the band trend and the model history. Each request instead reads a
version of the table, `(count(*), max(computed_at))`, which DuckDB answers from its
statistics in well under a millisecond: every scoring run stamps its rows with a new
`computed_at`, so any change to the history changes the version and drops the cache.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from vitalsign.errors import SnapshotError

T = TypeVar("T")
Version = tuple[Any, ...]
MAX_ENTRIES = 256
# The version: row count and latest computed_at (as microseconds, so that the account page
# can read it in the same UNION ALL as its other counts: vitalsign.web.account_view).
VERSION_SELECT = "SELECT count(*), epoch_us(max(computed_at)) FROM scores"


def history_version(connection: Any) -> Version:
    """Return the current version of the score history."""
    return tuple(connection.execute(VERSION_SELECT).fetchone())


class SnapshotCatalog:
    """Whole-history results memoised per history version; `at()` binds one request to one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: Version | None = None
        self._memo: dict[Hashable, Any] = {}

    def at(self, connection: Any, version: Version | None = None) -> CatalogView:
        """Return a view on the history's current version (read now unless given)."""
        version = version or history_version(connection)
        with self._lock:
            if version != self._version:
                self._version = version
                self._memo.clear()
        return CatalogView(self, connection, version)

    def _get(self, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            return (key in self._memo, self._memo.get(key))

    def _put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            if len(self._memo) >= MAX_ENTRIES:
                self._memo.clear()
            self._memo[key] = value


class CatalogView:
    """The catalog as of one version of the history, for one request's cursor."""

    def __init__(self, catalog: SnapshotCatalog, connection: Any, version: Version) -> None:
        self._catalog = catalog
        self._connection = connection
        self.version = version

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return `compute()` for `key`, computed once per history version."""
        found, value = self._catalog._get((self.version, key))
        if found:
            cached: T = value
            return cached
        computed = compute()
        self._catalog._put((self.version, key), computed)
        return computed

    def dates(self, model_name: str) -> list[dt.date]:
        """Return the snapshot dates of a model, oldest first."""

        def compute() -> list[dt.date]:
            rows = self._connection.execute(
                "SELECT DISTINCT snapshot_date FROM scores WHERE model_name = ? ORDER BY 1",
                [model_name],
            ).fetchall()
            return [r[0] for r in rows]

        return self.memo(("dates", model_name), compute)

    def resolve(self, model_name: str, as_of: dt.date | None) -> tuple[dt.date, dt.date | None]:
        """Return the snapshot date to show (latest when None) and the one before it."""
        dates = self.dates(model_name)
        if not dates:
            raise SnapshotError(
                f"no snapshots of model {model_name!r} yet; "
                "run `vitalsign score` or `vitalsign backfill`"
            )
        if as_of is None:
            day = dates[-1]
        elif as_of in dates:
            day = as_of
        else:
            earlier = [d for d in dates if d <= as_of]
            hint = f"; the nearest earlier one is {earlier[-1]}" if earlier else ""
            raise SnapshotError(f"no snapshot of model {model_name!r} on {as_of}{hint}")
        index = dates.index(day)
        return day, dates[index - 1] if index > 0 else None
