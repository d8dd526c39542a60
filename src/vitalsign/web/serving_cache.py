"""Every account's score history and the latest snapshot in memory, rebuilt per history version.

At 100,000 accounts × 52 weeks, reading one account's history (52 row groups) and one
snapshot's signal items from the DuckDB file costs 10–20 ms a page, four times the account
page's budget under 20 clients (docs/benchmarks.md, "Web"). So the app keeps, for the
current model and the version `(count(*), max(computed_at))` of `scores` that
`SnapshotCatalog` reads on every request:

- the history as columns sorted by account then date (dates, hashes and bands as small
  integer codes into lists), with each account's offsets;
- the latest snapshot's `scores` rows and `score_items` rows (sorted as `read_items` sorts
  them), as Arrow tables with each account's offsets;
- the latest snapshot's expansion scores (`expansion_scores`, written in the same
  transaction as the snapshot), so the account page's expansion card reads no table.

A build reads all of it in one transaction (one consistent version) on a background thread;
until it is ready, and whenever the version has moved on, pages read DuckDB as before. A
scoring run therefore shows at once, and the cache catches up a few seconds later.

While a long job writes (a backfill commits a batch every few seconds), rebuilding after each
commit would spend the server's one GIL on builds that are stale almost at once. So a build
starts at most every `MIN_GAP_SECONDS` (or `GAP_PER_BUILD` times the last build's duration,
when that is longer) after the previous one ended: a change within the gap is built when it
ends, and meanwhile pages read DuckDB, so they never show an old version.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vitalsign.engine.explain import ITEM_FIELDS, ItemRow
from vitalsign.web.catalog import Version, history_version

log = logging.getLogger("vitalsign.web")
MIN_GAP_SECONDS = 2.0  # between the end of one build and the start of the next
GAP_PER_BUILD = 4.0  # ... or this many times the last build's duration, if longer

# The select list and order of vitalsign.engine.snapshots.read_items, over a whole snapshot.
ITEMS_SQL = (
    "SELECT * REPLACE (coalesce(raw_text, CAST(raw_value AS VARCHAR)) AS raw_text) "
    "FROM score_items WHERE model_name = ? AND snapshot_date = ? "
    "ORDER BY account_id, kind DESC, path, name"
)
EXPANSION_SQL = (
    "SELECT account_id, score, coverage, contributions FROM expansion_scores "
    "WHERE model_name = ? AND snapshot_date = ? ORDER BY account_id"
)
HISTORY_SQL = (
    "SELECT account_id, snapshot_date, model_hash, score, band, computed_band FROM scores "
    "WHERE model_name = ? ORDER BY account_id, snapshot_date"
)


def _arrow(result: Any) -> pa.Table:
    table = result.arrow()
    return table.read_all() if isinstance(table, pa.RecordBatchReader) else table


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """Return small integer codes of a column and the values they stand for."""
    if len(column) == 0:
        return np.zeros(0, np.int32), []
    encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.to_numpy().astype(np.int32), encoded.dictionary.to_pylist()


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the start and end of each run of equal values in a sorted array."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.r_[starts[1:], len(keys)]


@dataclass(frozen=True)
class ServingData:
    """One model's history and latest snapshot, as of one version of `scores`."""

    version: Version
    model_name: str
    latest: dt.date | None
    accounts: dict[str, int]  # account_id → position
    history_offsets: np.ndarray  # history rows of account i: offsets[i]:offsets[i + 1]
    history_codes: dict[str, np.ndarray]  # snapshot_date, model_hash, band, computed_band
    history_values: dict[str, list[Any]]  # what each code stands for
    history_scores: np.ndarray
    rows: pa.Table  # the latest snapshot's `scores` rows
    row_columns: list[tuple[str, pa.ChunkedArray]]  # the columns of `rows`, by name
    row_of: np.ndarray  # account position → row in `rows`, or -1
    items: pa.Table  # the latest snapshot's `score_items` rows, sorted as read_items sorts
    item_spans: np.ndarray  # account position → (start, end) in `items`
    build_seconds: float
    expansion: dict[str, tuple[float | None, float, str]] = field(default_factory=dict)
    # the latest snapshot's expansion scores: account_id → (score, coverage, contributions)

    @property
    def nbytes(self) -> int:
        """Approximate memory held (arrays and Arrow tables)."""
        arrays = [self.history_offsets, self.history_scores, self.row_of, self.item_spans]
        arrays += list(self.history_codes.values())
        return int(sum(a.nbytes for a in arrays) + self.rows.nbytes + self.items.nbytes)

    def history(self, account_id: str) -> list[dict[str, Any]] | None:
        """Return the account's history rows (as `account_history` gives them), or None."""
        position = self.accounts.get(account_id)
        if position is None:
            return None
        start, end = int(self.history_offsets[position]), int(self.history_offsets[position + 1])
        columns = {
            name: [values[c] for c in self.history_codes[name][start:end].tolist()]
            for name, values in self.history_values.items()
        }
        scores = self.history_scores[start:end].tolist()
        return [
            {
                "snapshot_date": day,
                "model_name": self.model_name,
                "model_hash": model_hash,
                "score": None if score != score else score,  # NaN stands for NULL
                "band": band,
                "computed_band": computed,
            }
            for day, model_hash, score, band, computed in zip(
                columns["snapshot_date"],
                columns["model_hash"],
                scores,
                columns["band"],
                columns["computed_band"],
                strict=True,
            )
        ]

    def latest_row(self, account_id: str) -> dict[str, Any] | None:
        """Return the account's `scores` row on the latest date (as `score_row`), or None."""
        position = self.accounts.get(account_id)
        if position is None or self.row_of[position] < 0:
            return None
        index = int(self.row_of[position])  # a value per column: 3× cheaper than a slice
        return {name: column[index].as_py() for name, column in self.row_columns}

    def latest_item_rows(self, account_id: str) -> list[ItemRow]:
        """Return the account's items on the latest date as `explain_items` reads them."""
        position = self.accounts[account_id]
        start, end = self.item_spans[position].tolist()
        chosen = self.items.select(ITEM_FIELDS).slice(start, end - start)
        return list(zip(*(column.to_pylist() for column in chosen.columns), strict=True))

    def latest_items(self, account_id: str) -> pd.DataFrame:
        """Return the account's items on the latest date (as `read_items` gives them)."""
        position = self.accounts[account_id]
        start, end = self.item_spans[position].tolist()
        frame: pd.DataFrame = self.items.slice(start, end - start).to_pandas()
        return frame


def build_serving_data(connection: Any, model_name: str) -> ServingData:
    """Read one consistent version of the model's history and latest snapshot."""
    started = time.perf_counter()
    connection.execute("BEGIN TRANSACTION")  # every read below sees the same version
    try:
        version = history_version(connection)
        history = _arrow(connection.execute(HISTORY_SQL, [model_name]))
        latest = history["snapshot_date"].to_numpy().max() if history.num_rows else None
        day = None if latest is None else pd.Timestamp(latest).date()
        rows = _arrow(
            connection.execute(
                "SELECT * FROM scores WHERE model_name = ? AND snapshot_date = ? "
                "ORDER BY account_id",
                [model_name, day],
            )
        )
        items = _arrow(connection.execute(ITEMS_SQL, [model_name, day]))
        expansion = connection.execute(EXPANSION_SQL, [model_name, day]).fetchall()
    finally:
        connection.execute("COMMIT")
    account_codes, account_ids = _codes(history["account_id"])
    accounts = {account_id: i for i, account_id in enumerate(account_ids)}
    offsets = np.zeros(len(account_ids) + 1, np.int64)
    np.cumsum(np.bincount(account_codes, minlength=len(account_ids)), out=offsets[1:])
    codes, values = {}, {}
    for name in ("snapshot_date", "model_hash", "band", "computed_band"):
        codes[name], values[name] = _codes(history[name])
    row_of = np.full(len(account_ids), -1, np.int64)
    for i, account_id in enumerate(rows["account_id"].to_pylist()):
        row_of[accounts[account_id]] = i
    spans = np.zeros((len(account_ids), 2), np.int64)
    item_accounts = items["account_id"].to_numpy(zero_copy_only=False)
    for start, end in zip(*_runs(item_accounts), strict=True):
        spans[accounts[str(item_accounts[start])]] = (start, end)
    return ServingData(
        version=version,
        model_name=model_name,
        latest=day,
        accounts=accounts,
        history_offsets=offsets,
        history_codes=codes,
        history_values=values,
        history_scores=history["score"].to_numpy(zero_copy_only=False).astype(np.float64),
        rows=rows,
        row_columns=list(zip(rows.column_names, rows.columns, strict=True)),
        row_of=row_of,
        items=items,
        item_spans=spans,
        build_seconds=time.perf_counter() - started,
        expansion={
            str(a): (None if score is None else float(score), float(coverage), str(parts))
            for a, score, coverage, parts in expansion
        },
    )


class ServingCache:
    """The current `ServingData`, rebuilt on a background thread when the version moves on."""

    def __init__(
        self,
        cursor: Callable[[], Any],
        on_built: Callable[[ServingData], None] | None = None,
        min_gap: float = MIN_GAP_SECONDS,
    ) -> None:
        self._cursor = cursor
        self._on_built = on_built
        self._min_gap = min_gap
        self._lock = threading.Lock()
        self._data: ServingData | None = None
        self._builder: threading.Thread | None = None
        self._failed: tuple[Version | None, str] | None = None
        self._next_start = 0.0  # time.monotonic() before which no build starts
        self.builds = 0  # builds finished (for tests and benchmarks)

    def current(self, version: Version, model_name: str) -> ServingData | None:
        """Return the data of `version` if built; otherwise start a build and return None."""
        data = self._data
        if data is not None and data.version == version and data.model_name == model_name:
            return data
        self.refresh(model_name, version)
        return None

    def refresh(self, model_name: str, version: Version | None = None) -> None:
        """Start a build on a background thread (unless one is running or just failed)."""
        with self._lock:
            if self._builder is not None and self._builder.is_alive():
                return
            if self._failed is not None and self._failed == (version, model_name):
                return
            self._builder = threading.Thread(
                target=self._build, args=(model_name, version), name="serving-cache", daemon=True
            )
            self._builder.start()

    def wait(self, timeout: float = 60.0) -> ServingData | None:
        """Wait for a running build to finish; return the current data."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
        return self._data

    def _build(self, model_name: str, version: Version | None) -> None:
        wait = self._next_start - time.monotonic()
        if wait > 0:  # a build ended moments ago: let the writer get on (module docstring)
            time.sleep(wait)
        started = time.monotonic()
        try:
            self._build_now(model_name, version)
        finally:
            ended = time.monotonic()
            self._next_start = ended + max(self._min_gap, GAP_PER_BUILD * (ended - started))

    def _build_now(self, model_name: str, version: Version | None) -> None:
        cursor = self._cursor()
        try:
            data = build_serving_data(cursor, model_name)
        except duckdb.Error as exc:  # e.g. the workspace closed while building
            log.warning("serving cache not built (pages read DuckDB instead): %s", exc)
            with self._lock:
                self._failed = (version, model_name)
            return
        except Exception:  # a bug: logged with its traceback; pages keep reading DuckDB
            log.exception("serving cache build failed (pages read DuckDB instead)")
            with self._lock:
                self._failed = (version, model_name)
            return
        finally:
            cursor.close()
        self._data = data
        self.builds += 1
        log.info(
            "serving cache: %d accounts, latest %s, built in %.1f s (%.0f MiB)",
            len(data.accounts),
            data.latest,
            data.build_seconds,
            data.nbytes / 2**20,
        )
        if self._on_built is not None:
            self._on_built(data)
