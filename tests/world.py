"""The tiny explicit fixture world: five accounts whose scores are computed by hand.

As of T = 2024-03-01 (see tests/engine/test_tiny_world.py for the arithmetic):
- A: 5 logins in [T-30d, T) → 50 points; 1 ticket → 50; NPS 8 → 80; CSM green → 100.
- B: 12 logins → 100; no ticket → 100; no NPS (missing); CSM red → 0; champion left.
- C: no usage, no ticket, no voice data, and no invoice: fails the gate.
- D: starts after T (not scored). E: churned before T (not scored).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from vitalsign.model.canonical import CANONICAL_TABLES

FIXTURES = Path(__file__).parent / "fixtures"

T = dt.date(2024, 3, 1)
MIDNIGHT = dt.datetime(2024, 3, 1)


def ts(days_before_t: float) -> dt.datetime:
    """Return the timestamp `days_before_t` days before T (negative: after T)."""
    return MIDNIGHT - dt.timedelta(days=days_before_t)


ACCOUNTS = [
    ("A", "Acme", ts(400), "ann", "smb", 10, 12000.0, dt.date(2024, 6, 1), None),
    ("B", "Beta", ts(400), "bob", "enterprise", 50, 90000.0, dt.date(2024, 4, 1), None),
    ("C", "Cato", ts(100), "ann", "smb", 5, 3000.0, dt.date(2024, 9, 1), None),
    ("D", "Delta", ts(-14), "bob", "smb", 5, 3000.0, dt.date(2025, 3, 1), None),
    ("E", "Echo", ts(400), "bob", "smb", 5, 3000.0, dt.date(2024, 1, 1), ts(30)),
]


def _events() -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    # A: logins at T-30d exactly (in), 3 more inside, one at T-1s (in) → 5;
    #    one just before the window and one at T itself (both out); an export (not a login).
    for i, days in enumerate([30, 20, 10, 5, 1 / 86400, 30 + 1 / 86400, 0]):
        rows.append((f"a{i}", "A", ts(days), "login", "u1", None, None))
    rows.append(("a-x", "A", ts(3), "export", "u1", None, None))
    for i in range(12):
        rows.append((f"b{i}", "B", ts(1 + i), "login", "u2", None, None))
    rows.append(("e0", "E", ts(40), "login", "u3", None, None))
    return rows


TABLES: dict[str, list[tuple[Any, ...]]] = {
    "accounts": [
        (a, n, c, o, s, None, None, None, seats, arr, r, ch, None, None)
        for a, n, c, o, s, seats, arr, r, ch in ACCOUNTS
    ],
    "events": _events(),
    "tickets": [
        ("t1", "A", ts(45), None, "normal", "solved", None, None, None),
        ("t0", "A", ts(95), None, "high", "solved", None, None, None),  # outside 90d
    ],
    "surveys": [
        ("r1", "A", ts(200), "nps", 3.0, None, None),
        ("r2", "A", ts(50), "nps", 8.0, None, None),
        ("r3", "A", ts(10), "csat", 2.0, None, None),
    ],
    "csm_ratings": [
        ("A", ts(20), "green", "ann", None),
        ("B", ts(150), "green", "bob", None),  # outside 120d
        ("B", ts(60), "red", "bob", None),
    ],
    "invoices": [
        ("i1", "A", ts(10), 1000.0, "paid", None, None),
        ("i2", "B", ts(15), 7500.0, "paid", None, None),
        ("i3", "C", ts(45), 250.0, "paid", None, None),  # outside 30d: C fails the gate
    ],
    "business_events": [("B", ts(20), "champion_left", None)],
}


def load_tiny_world(connection: Any, extra: dict[str, list[tuple[Any, ...]]] | None = None) -> None:
    """Insert the tiny world (and `extra` rows) into a workspace's DuckDB connection."""
    for table, rows in {**TABLES}.items():
        all_rows = rows + (extra or {}).get(table, [])
        if all_rows:
            marks = ", ".join("?" for _ in all_rows[0])
            names = ", ".join(CANONICAL_TABLES[table].column_names[: len(all_rows[0])])
            connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", all_rows)
