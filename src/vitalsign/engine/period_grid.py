"""The grid of a backfill's dates: its step, a window's pieces and frame, and named lags.

The dates lie on a grid of step s days ending at the last date; a window [T - o - w, T - o)
of a date T is a run of whole periods of the grid plus, at each end, a piece of a period
cut at a whole day (`geometry`). On the account × period grid of partial aggregates, a run
of whole periods is read with lags or one framed aggregate (`Lagged`), each computed once
however many windows use it. Used by engine/one_pass.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir


@dataclass(frozen=True)
class Geometry:
    """Where the window (offset, width) of the date in period p0 lies on the grid.

    `pieces` are (lag, first day, end day) of a period cut at whole days, the most recent
    first; `frame` is (first lag, last lag) of the whole periods between them, or None.
    """

    pieces: tuple[tuple[int, int, int], ...]
    frame: tuple[int, int] | None


def geometry(offset: int, width: int, step: int) -> Geometry:
    """Return the pieces and the frame of whole periods of one window on a grid of `step`.

    >>> geometry(0, 30, 7)  # four whole weeks and the last 2 days of the fifth
    Geometry(pieces=((5, 5, 7),), frame=(4, 1))
    """
    q_end, r_end = divmod(offset, step)
    q_start, r_start = divmod(offset + width, step)
    if r_end and r_start and q_start == q_end:  # the window lies inside one period
        return Geometry(((q_end + 1, step - r_start, step - r_end),), None)
    pieces: list[tuple[int, int, int]] = []
    if r_end:
        pieces.append((q_end + 1, 0, step - r_end))
    if r_start:
        pieces.append((q_start + 1, step - r_start, step))
    last = q_end + 1 + (1 if r_end else 0)
    return Geometry(tuple(pieces), (q_start, last) if q_start >= last else None)


def grid_step(dates: Sequence[dt.date]) -> int:
    """Return the greatest common divisor of the sorted dates' gaps in days."""
    return functools.reduce(math.gcd, [(b - a).days for a, b in itertools.pairwise(dates)])


class Lagged:
    """Named lags and frames of grid columns, each computed once however many windows use it."""

    def __init__(self, grid: ir.Table) -> None:
        self.grid = grid
        self.columns: dict[str, Any] = {}
        self.by_period = ibis.window(group_by="account_id", order_by="p__")

    def lag(self, column: str, lag: int) -> str:
        name = f"l{lag}__{column}"
        if name not in self.columns:
            self.columns[name] = self.grid[column].lag(lag).over(self.by_period)
        return name

    def frame(self, column: str, first: int, last: int, how: str) -> str:
        name = f"f{first}_{last}_{how}__{column}"
        if name not in self.columns:
            rows = ibis.window(group_by="account_id", order_by="p__", rows=(-first, -last))
            self.columns[name] = getattr(self.grid[column], how)().over(rows)
        return name
