"""Freshness: how current each table is, per scoring date and per source.

A table is *stale* at a scoring date T when its newest row before T is older than the
model's allowance for it (`freshness:` in the model, docs/model.md); a table with no row at
all before T is *absent*, not stale: it says nothing about any account either, so the engine
makes the signals of both missing (a pipeline never connected must not earn healthy points),
but only stale tables hold back alerts. The engine records, per snapshot, every table the
model reads (`score_freshness`); alerts read it to hold back changes caused by stale data, and
`vitalsign status` and the web's /status page show it beside each source's last sync.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vitalsign.model.canonical import CANONICAL_TABLES


@dataclass(frozen=True)
class TableFreshness:
    """One table as seen by a scoring date: its newest row before T and whether it is stale."""

    table: str
    day: dt.date
    newest: dt.datetime | None
    allowed_days: int | None
    signals: tuple[str, ...] = ()  # the model's signals this table feeds (made missing if stale)

    @property
    def age_days(self) -> int | None:
        """Whole days from the newest row to the start of the scoring day."""
        if self.newest is None:
            return None
        return (midnight(self.day) - self.newest).days

    @property
    def stale(self) -> bool:
        """True when the newest row is older than the allowance (never for an empty table)."""
        if self.newest is None or self.allowed_days is None:
            return False
        return midnight(self.day) - self.newest > dt.timedelta(days=self.allowed_days)

    @property
    def absent(self) -> bool:
        """True when the table has no row before the scoring day (not loaded, or not yet)."""
        return self.newest is None

    @property
    def silent(self) -> bool:
        """True when the table says nothing about any account that day: stale or absent."""
        return self.stale or self.absent

    def line(self) -> str:
        """One line for `score` and `run`, e.g. "events: newest row 2025-01-31, 365 days ..."."""
        count = len(self.signals)
        are = f"its {count} signal{'s' if count != 1 else ''} {'are' if count != 1 else 'is'}"
        if self.absent:
            return f"{self.table}: no row before {self.day}: {are} missing"
        newest = f"newest row {self.newest:%Y-%m-%d %H:%M}"
        allowed = f"{self.allowed_days} day{'s' if self.allowed_days != 1 else ''}"
        return (
            f"{self.table}: {newest}, {self.age_days} days before {self.day} "
            f"(allowed {allowed}): {are} missing"
        )


def midnight(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day`: scoring as of a day reads rows before it."""
    return dt.datetime(day.year, day.month, day.day)


def record_freshness(
    connection: Any, model_name: str, by_date: Mapping[dt.date, Sequence[TableFreshness]]
) -> None:
    """Replace the freshness rows of these snapshot dates (inside the caller's transaction)."""
    rows = [
        (day, model_name, t.table, t.newest, t.allowed_days, t.stale, json.dumps(list(t.signals)))
        for day, tables in by_date.items()
        for t in tables
    ]
    for day in by_date:
        connection.execute(
            "DELETE FROM score_freshness WHERE model_name = ? AND snapshot_date = ?",
            [model_name, day],
        )
    if rows:
        connection.executemany(
            "INSERT INTO score_freshness VALUES (?, ?, ?, ?, ?, ?, ?)", [list(r) for r in rows]
        )


def snapshot_freshness(
    connection: Any, model_name: str, dates: Sequence[dt.date]
) -> list[TableFreshness]:
    """Return the recorded freshness of each table the model read on these snapshot dates."""
    if not dates:
        return []
    frame = connection.execute(
        "SELECT snapshot_date, table_name, newest, allowed_days, signals FROM score_freshness "
        "WHERE model_name = ? AND snapshot_date IN (SELECT UNNEST(?::DATE[])) "
        "ORDER BY snapshot_date, table_name",
        [model_name, list(dates)],
    ).fetchall()
    return [
        TableFreshness(
            table=str(table),
            day=_as_date(day),
            newest=_moment(newest),
            allowed_days=None if allowed is None else int(allowed),
            signals=tuple(json.loads(signals)),
        )
        for day, table, newest, allowed, signals in frame
    ]


def stale_lines(connection: Any, model_name: str, dates: Sequence[dt.date]) -> list[str]:
    """One line per stale or empty table for `score` (one date) or `backfill` (many dates).

    Each line starts with what the table is ("stale" or "empty") for the caller to colour.

    >>> stale_lines(ws.duckdb, "default", [dt.date(2026, 1, 31)])  # doctest: +SKIP
    ['stale events: newest row 2025-01-31, 365 days before 2026-01-31 (allowed 2 days): ...']
    """
    silent = [t for t in snapshot_freshness(connection, model_name, dates) if t.silent]
    if len(set(dates)) <= 1:
        return [f"{'stale' if t.stale else 'empty'} {t.line()}" for t in silent]
    lines = []
    for table in sorted({t.table for t in silent}):
        mine = [t for t in silent if t.table == table]
        stale = [t for t in mine if t.stale]
        signals = len(mine[-1].signals)
        how = [f"without a row on {len(mine) - len(stale)}"] if len(stale) < len(mine) else []
        if stale:
            how.append(f"stale on {len(stale)} (allowed {stale[-1].allowed_days} days)")
        lines.append(
            f"{'stale' if stale else 'empty'} {table}: {' and '.join(how)} of "
            f"{len(set(dates))} dates ({mine[0].day} to {mine[-1].day}): its {signals} "
            f"signal{'s' if signals != 1 else ''} {'are' if signals != 1 else 'is'} missing "
            "on those dates"
        )
    return lines


def _moment(value: Any) -> dt.datetime | None:
    """A database timestamp as a Python datetime (None stays None)."""
    return None if value is None else pd.Timestamp(value).to_pydatetime()


def _as_date(value: Any) -> dt.date:
    return value if type(value) is dt.date else pd.Timestamp(value).date()


@dataclass(frozen=True)
class TableStatus:
    """A canonical table now: rows, newest row, and whether the model finds it stale."""

    table: str
    rows: int
    newest: dt.datetime | None
    allowed_days: int | None
    signals: tuple[str, ...]
    now: dt.datetime

    @property
    def age_days(self) -> float | None:
        """Days from the newest row to now."""
        if self.newest is None:
            return None
        return (self.now - self.newest).total_seconds() / 86400

    @property
    def state(self) -> str:
        """fresh, stale, empty, or untracked (the model allows it any age)."""
        if self.rows == 0:
            return "empty"
        if self.allowed_days is None or self.newest is None:
            return "untracked"
        age = self.age_days
        return "stale" if age is not None and age > self.allowed_days else "fresh"


@dataclass(frozen=True)
class SourceStatus:
    """A source seen in `ingest_runs`: its table, last successful sync, last attempt."""

    source: str
    table: str
    last_ok: dt.datetime | None
    last_run: dt.datetime | None
    last_status: str
    runs: int


def table_statuses(
    connection: Any,
    now: dt.datetime,
    allowance: Mapping[str, int | None],
    signals: Mapping[str, Sequence[str]],
) -> list[TableStatus]:
    """Return every canonical table's rows, newest row and freshness as of `now`.

    A row dated after `now` is counted but not taken as the newest row; a table without a
    time column has no newest row.
    """
    result = []
    for name, table in CANONICAL_TABLES.items():
        time = table.time_column
        if time is None:  # a table without a time (identities, owners): rows only
            rows, newest = connection.execute(f"SELECT count(*), NULL FROM {name}").fetchone()
        else:
            rows, newest = connection.execute(
                f"SELECT count(*), max({time}) FILTER (WHERE {time} <= ?) FROM {name}", [now]
            ).fetchone()
        newest_time = _moment(newest)
        result.append(
            TableStatus(
                name,
                int(rows),
                newest_time,
                allowance.get(name),
                tuple(signals.get(name, ())),
                now,
            )
        )
    return result


def source_statuses(connection: Any) -> list[SourceStatus]:
    """Return each source of `ingest_runs` with its last successful and last attempted run."""
    frame = connection.execute(
        """
        SELECT source, target_table,
               max(finished_at) FILTER (WHERE status = 'ok') AS last_ok,
               max(started_at) AS last_run,
               arg_max(status, started_at) AS last_status,
               count(*) AS runs
        FROM ingest_runs GROUP BY source, target_table ORDER BY target_table, source
        """
    ).fetchall()
    return [
        SourceStatus(
            source=str(source),
            table=str(table),
            last_ok=_moment(ok),
            last_run=_moment(run),
            last_status=str(status),
            runs=int(runs),
        )
        for source, table, ok, run, status, runs in frame
    ]
