"""Explain one account's score from the stored snapshots, and what changed since a date."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from vitalsign.engine.snapshots import read_items, resolve_date
from vitalsign.errors import SnapshotError


@dataclass(frozen=True)
class ItemLine:
    """One signal or group of an explanation."""

    kind: str
    name: str
    path: str
    raw: str | None
    points: float | None
    weight: float
    contribution: float
    value: str | None = None  # the raw value as stored (`raw` adds an override's note)


@dataclass(frozen=True)
class Change:
    """How one signal's contribution moved between two snapshots."""

    name: str
    path: str
    raw_before: str | None
    raw_after: str | None
    contribution_before: float
    contribution_after: float

    @property
    def delta(self) -> float:
        """Contribution after minus before."""
        return self.contribution_after - self.contribution_before


@dataclass(frozen=True)
class Explanation:
    """Everything behind one account's score on one date."""

    account_id: str
    name: str | None
    model_name: str
    model_hash: str
    as_of: dt.date
    score: float | None
    base_score: float | None
    band: str
    computed_band: str
    coverage: float
    gate_pass: bool
    flags: list[str]
    groups: list[ItemLine]
    signals: list[ItemLine]
    since: dt.date | None = None
    score_before: float | None = None
    band_before: str | None = None
    flags_before: list[str] = field(default_factory=list)
    gate_before: bool | None = None
    changes: list[Change] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""

        def plain(value: Any) -> Any:
            if isinstance(value, float) and math.isnan(value):
                return None
            if isinstance(value, dt.date):
                return value.isoformat()
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        data = {k: plain(v) for k, v in self.__dict__.items() if k not in ("changes",)}
        data["changes"] = [plain({**c.__dict__, "delta": c.delta}) for c in self.changes]
        data["groups"] = [plain(g.__dict__) for g in self.groups]
        data["signals"] = [plain(s.__dict__) for s in self.signals]
        return data


ITEM_FIELDS = ("kind", "name", "path", "raw_text", "points", "weight", "contribution")
# One signal or group item as stored in `score_items`, in the order of ITEM_FIELDS: kind,
# name, path, raw text (NULL raw text already replaced by the raw value, as `read_items`
# does), points, weight and contribution. A missing number is None or NaN.
ItemRow = tuple[str, str, str, str | None, float | None, float | None, float | None]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN stands for NULL


def _text(value: Any) -> str | None:
    return None if value is None or value != value else str(value)  # NaN stands for NULL


def _date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value  # pd.Timestamp too


def item_rows(items: pd.DataFrame) -> list[ItemRow]:
    """Return the rows of a `read_items` frame as `ItemRow` tuples."""
    return list(items[list(ITEM_FIELDS)].itertuples(index=False, name=None))


def _line(item: Sequence[Any]) -> ItemLine:
    kind, name, path, raw, points, weight, contribution = item
    return ItemLine(
        kind=str(kind),
        name=str(name),
        path=str(path),
        raw=_text(raw),
        value=_text(raw),
        points=_number(points),
        weight=_number(weight) or 0.0,
        contribution=_number(contribution) or 0.0,
    )


def explain_items(
    model_name: str, row: Mapping[str, Any], items: Iterable[Sequence[Any]]
) -> Explanation:
    """Explain one stored `scores` row from its items already read (`ItemRow`s).

    `items` come in `read_items` order (kind descending, path, name): groups keep it and
    signals with equal contributions too.

    The one explanation builder: `explain_row`, `explain_account` (CLI, API) and the web
    account page (items from its in-memory cache) all end here. Plain Python, no pandas.
    """
    groups: list[ItemLine] = []
    signals: list[ItemLine] = []
    computed: dict[str, str | None] = {}
    for item in items:
        line = _line(item)
        if line.kind == "signal":
            signals.append(line)
        elif line.kind == "group":
            groups.append(line)
        elif line.kind == "computed":
            computed[line.name] = line.raw
    signals.sort(key=lambda s: -s.contribution)
    return Explanation(
        account_id=str(row["account_id"]),
        name=row.get("name"),
        model_name=model_name,
        model_hash=str(row["model_hash"]),
        as_of=_date(row["snapshot_date"]),
        score=_number(row["score"]),
        base_score=_number(row["base_score"]),
        band=str(row["band"]),
        computed_band=str(row["computed_band"]),
        coverage=float(row["coverage"]),
        gate_pass=bool(row["gate_pass"]),
        flags=list(json.loads(row["flags"])),
        groups=groups,
        signals=[
            replace(s, raw=f"{s.raw} (override; computed {computed[s.name] or 'missing'})")
            if s.name in computed
            else s
            for s in signals
        ],
    )


def _row(connection: Any, model_name: str, as_of: dt.date, account_id: str) -> dict[str, Any]:
    frame = connection.execute(
        "SELECT * FROM scores WHERE model_name = ? AND snapshot_date = ? AND account_id = ?",
        [model_name, as_of, account_id],
    ).df()
    if frame.empty:
        known = connection.execute(
            "SELECT count(*) FROM scores WHERE account_id = ?", [account_id]
        ).fetchone()[0]
        if not known:
            raise SnapshotError(f"unknown account {account_id!r}: it has no score in any snapshot")
        raise SnapshotError(f"account {account_id!r} was not scored on {as_of} (not active then)")
    row: dict[str, Any] = frame.iloc[0].to_dict()
    return row


def explain_row(connection: Any, model_name: str, row: Mapping[str, Any]) -> Explanation:
    """Explain one stored `scores` row, reading its signal and group items."""
    items = read_items(connection, model_name, _date(row["snapshot_date"]), str(row["account_id"]))
    return explain_items(model_name, row, item_rows(items))


def explain_account(
    connection: Any,
    model_name: str,
    account_id: str,
    as_of: dt.date | None = None,
    since: dt.date | None = None,
) -> Explanation:
    """Explain `account_id` on `as_of` (default: the latest snapshot), optionally since a date.

    >>> explain_account(con, "default", "acct-42", since=dt.date(2025, 1, 6))  # doctest: +SKIP
    """
    day = resolve_date(connection, model_name, as_of)
    explanation = explain_row(connection, model_name, _row(connection, model_name, day, account_id))
    if since is None:
        return explanation
    return changed_since(connection, explanation, since)


def changed_since(connection: Any, explanation: Explanation, since: dt.date) -> Explanation:
    """Return the explanation with what changed since the snapshot of `since` filled in.

    The earlier snapshot's row and items are read; the later ones are the explanation's own
    (the account page's may come from memory).
    """
    model_name, account_id = explanation.model_name, explanation.account_id
    before_day = resolve_date(connection, model_name, since)
    before = _row(connection, model_name, before_day, account_id)
    changes = _changes(
        item_rows(read_items(connection, model_name, before_day, account_id)),
        [_item(s) for s in explanation.signals],
    )
    return Explanation(
        **{
            **explanation.__dict__,
            "since": before_day,
            "score_before": _number(before["score"]),
            "band_before": str(before["band"]),
            "flags_before": list(json.loads(before["flags"])),
            "gate_before": bool(before["gate_pass"]),
            "changes": changes,
        }
    )


def _item(line: ItemLine) -> ItemRow:
    """Return a signal line as the stored item it came from."""
    return (
        line.kind,
        line.name,
        line.path,
        line.value,
        line.points,
        line.weight,
        line.contribution,
    )


def _changes(before: Iterable[Sequence[Any]], after: Iterable[Sequence[Any]]) -> list[Change]:
    def signals(items: Iterable[Sequence[Any]]) -> dict[str, ItemLine]:
        return {line.name: line for line in map(_line, items) if line.kind == "signal"}

    old, new = signals(before), signals(after)
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        ref = b if b is not None else a
        assert ref is not None
        changes.append(
            Change(
                name=name,
                path=ref.path,
                raw_before=None if a is None else a.raw,
                raw_after=None if b is None else b.raw,
                contribution_before=0.0 if a is None else a.contribution,
                contribution_after=0.0 if b is None else b.contribution,
            )
        )
    return sorted(changes, key=lambda c: (-abs(c.delta), c.name))
