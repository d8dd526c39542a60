"""Explain one account's score from the stored snapshots, and what changed since a date."""

from __future__ import annotations

import datetime as dt
import json
import math
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


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


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


def _lines(items: pd.DataFrame, kind: str) -> list[ItemLine]:
    chosen = items[items["kind"] == kind]
    return [
        ItemLine(
            kind=kind,
            name=str(r.name),
            path=str(r.path),
            raw=None if r.raw_text is None or pd.isna(r.raw_text) else str(r.raw_text),
            points=_number(r.points),
            weight=_number(r.weight) or 0.0,
            contribution=_number(r.contribution) or 0.0,
        )
        for r in chosen.itertuples(index=False)
    ]


def explain_row(connection: Any, model_name: str, row: dict[str, Any]) -> Explanation:
    """Explain one stored `scores` row (with its signal and group items)."""
    day = pd.Timestamp(row["snapshot_date"]).date()
    account_id = str(row["account_id"])
    items = read_items(connection, model_name, day, account_id)
    computed = {line.name: line.raw for line in _lines(items, "computed")}
    signals = [
        replace(s, raw=f"{s.raw} (override; computed {computed[s.name] or 'missing'})")
        if s.name in computed
        else s
        for s in sorted(_lines(items, "signal"), key=lambda s: -s.contribution)
    ]
    return Explanation(
        account_id=account_id,
        name=row.get("name"),
        model_name=model_name,
        model_hash=str(row["model_hash"]),
        as_of=day,
        score=_number(row["score"]),
        base_score=_number(row["base_score"]),
        band=str(row["band"]),
        computed_band=str(row["computed_band"]),
        coverage=float(row["coverage"]),
        gate_pass=bool(row["gate_pass"]),
        flags=list(json.loads(row["flags"])),
        groups=_lines(items, "group"),
        signals=signals,
    )


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
    before_day = resolve_date(connection, model_name, since)
    before = _row(connection, model_name, before_day, account_id)
    before_items = read_items(connection, model_name, before_day, account_id)
    changes = _changes(before_items, read_items(connection, model_name, day, account_id))
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


def _changes(before: pd.DataFrame, after: pd.DataFrame) -> list[Change]:
    def keyed(frame: pd.DataFrame) -> dict[str, Any]:
        return {str(r.name): r for r in frame[frame["kind"] == "signal"].itertuples(index=False)}

    old, new = keyed(before), keyed(after)
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        ref = b if b is not None else a
        assert ref is not None
        changes.append(
            Change(
                name=name,
                path=str(ref.path),
                raw_before=None if a is None or pd.isna(a.raw_text) else str(a.raw_text),
                raw_after=None if b is None or pd.isna(b.raw_text) else str(b.raw_text),
                contribution_before=0.0 if a is None else float(a.contribution),
                contribution_after=0.0 if b is None else float(b.contribution),
            )
        )
    return sorted(changes, key=lambda c: (-abs(c.delta), c.name))
