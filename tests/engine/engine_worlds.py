"""The worlds the engine matrix scores on every engine, and how each engine is loaded.

Each world is the tiny world (tests/world.py) plus its own rows, a model and, for some,
overrides. The rows hold NULLs in double columns and times with fractional seconds, so
that every aggregation, scale, missing policy, gate, flag and override is exercised.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.store.history import bring_up_to_date
from vitalsign.store.overrides import add_override
from vitalsign.store.workspace import Workspace
from world import FIXTURES, T, load_tiny_world, ts

HISTORY = "account_history"
TABLES = [*CANONICAL_TABLES, HISTORY]

# NULLs in double columns (ticket satisfaction and response time, event quantities, ARR)
# and times with fractional seconds; every aggregate that skips NULLs, a `latest` whose
# newest value is NULL, missing policies, a percentile scale and fractional days.
NULL_ROWS: dict[str, list[tuple[Any, ...]]] = {
    "events": [
        (
            f"q{i}",
            "AB"[i % 2],
            ts(i * 0.37 + 0.1234567),
            "login" if i % 3 else "export",
            f"u{i % 4}",
            None,
            None if i % 3 == 0 else float(i),
        )
        for i in range(40)
    ],
    "tickets": [
        (
            f"tq{i}",
            "ABC"[i % 3],
            ts(i * 2.3 + 0.5),
            None,
            "normal",
            "open",
            None,
            None if i % 2 else 3.5 + i % 4,
            None if i % 4 else float(i % 5 + 1),
        )
        for i in range(20)
    ],
}
NULL_MODEL = """\
name: nulls
min_coverage: 0.3
signals:
  sat_mean:
    {table: tickets, aggregate: mean, column: satisfaction, window: 60d,
     scale: {type: linear, low: 1, high: 5}}
  sat_max:
    {table: tickets, aggregate: max, column: satisfaction, window: 60d,
     scale: {type: percentile}}
  sat_latest:
    {table: tickets, aggregate: latest, column: satisfaction, window: 60d, missing: zero,
     scale: {type: linear, low: 1, high: 5}}
  response_min:
    {table: tickets, aggregate: min, column: first_response_hours, window: 60d,
     scale: {type: linear, low: 1, high: 48, better: lower}}
  quantity_sum:
    {table: events, aggregate: sum, column: quantity, window: 30d,
     scale: {type: linear, low: 0, high: 100}}
  quantity_p50:
    {table: events, aggregate: percentile, q: 0.5, column: quantity, window: 30d,
     missing: 40, scale: {type: percentile}}
  users_7d:
    {table: events, aggregate: count_distinct, column: user_id, window: 7d,
     scale: {type: linear, low: 0, high: 4}}
  days_since_login:
    {table: events, aggregate: days_since_last, filter: "event == 'login'", window: 90d,
     scale: {type: linear, low: 0.1, high: 3, better: lower}}
  tenure: {attribute: tenure_days, scale: {type: linear, low: 0, high: 1000}}
  arr: {attribute: arr, missing: 50, scale: {type: linear, low: 0, high: 100000}}
scorecards:
  default:
    usage: {signals: {quantity_sum, quantity_p50, users_7d, days_since_login}}
    support: {signals: {sat_mean, sat_max, sat_latest, response_min}}
    account: {signals: {arr, tenure}}
flags:
  unhappy: {when: "coalesce(sat_max, 0) < 4", subtract: 5}
bands: [{name: green, min: 70}, {name: yellow, min: 40}, {name: red, min: 0}]
freshness: {events: never, tickets: never, invoices: never}
"""

# Every aggregation and derived signal, every scale (a piecewise one too), every missing
# policy, a segment with
# its own scorecard, a gate, a flag that subtracts and one that caps the band.
AGGREGATIONS_MODEL = """\
name: aggregations
min_coverage: 0.4
signals:
  n7: {table: events, aggregate: count, window: 7d,
       scale: {type: thresholds, below: 0, steps: [{min: 1, points: 40}, {min: 3, points: 80},
                                                  {min: 6, points: 100}]}}
  users: {table: events, aggregate: count_distinct, column: user_id, window: 28d,
          scale: {type: linear, low: 0, high: 5}}
  total: {table: events, aggregate: sum, column: quantity, window: 28d, scale: {type: percentile}}
  doubled: {table: events, aggregate: sum, value: "quantity * 2", window: 28d, missing: zero,
            scale: {type: linear, low: 0, high: 200}}
  avg: {table: events, aggregate: mean, column: quantity, window: 28d, missing: 30,
        scale: {type: linear, low: 0, high: 20}}
  low: {table: events, aggregate: min, column: quantity, window: 28d,
        scale: {type: linear, low: 0, high: 10, better: lower}}
  high: {table: events, aggregate: max, column: quantity, window: 28d, scale: {type: percentile}}
  p50: {table: events, aggregate: percentile, column: quantity, q: 0.5, window: 28d,
        scale: {type: piecewise, knots: [{value: 0, points: 0}, {value: 4, points: 60},
                                         {value: 12, points: 90}, {value: 20, points: 100}]}}
  last_q: {table: events, aggregate: latest, column: quantity, window: 28d,
           scale: {type: linear, low: 0, high: 20}}
  quiet: {table: events, aggregate: days_since_last, window: 28d,
          scale: {type: linear, low: 0, high: 14, better: lower}}
  first_export: {table: events, aggregate: time_to_first, filter: "event == 'export'",
                 scale: {type: linear, low: 0, high: 400, better: lower}}
  change: {change: n7, scale: {type: linear, low: -5, high: 5}}
  slope: {trend: n7, windows: 4, scale: {type: linear, low: -2, high: 2}}
  vs_base: {baseline: n7, windows: 3, scale: {type: linear, low: 0.2, high: 1.5}}
  seats: {attribute: seats}
  per_seat: {ratio: [users, seats], scale: {type: linear, low: 0, high: 1}}
  renewal: {attribute: days_to_renewal, scale: {type: linear, low: 0, high: 365}}
  tenure: {attribute: tenure_days, scale: {type: linear, low: 0, high: 1000}}
  combo: {formula: "coalesce(total, 0) + n7 * 10", scale: {type: linear, low: 0, high: 100}}
  is_enterprise: {attribute: "segment == 'enterprise'",
                  scale: {type: boolean, if_true: 100, if_false: 50}}
  csm: {table: csm_ratings, aggregate: latest, column: rating, window: 120d,
        scale: {type: categorical, map: {green: 100, yellow: 50, red: 0}}}
  sat: {table: tickets, aggregate: mean, column: satisfaction, window: 60d,
        scale: {type: linear, low: 1, high: 5}}
  invoices_30d: {table: invoices, aggregate: count, window: 30d}
scorecards:
  default:
    usage: {weight: 2, signals: {n7, users, total, doubled, avg, low, high, p50, last_q, quiet}}
    growth: {signals: {change, slope, vs_base, combo, first_export}}
    account: {signals: {per_seat, renewal, tenure, is_enterprise}}
    voice: {signals: {csm, sat}}
  enterprise:
    usage: {signals: {n7: 2, users: 1, quiet: 1}}
    voice: {weight: 3, signals: {csm: 1, sat: 1}}
segments:
  - {name: big, when: "segment == 'enterprise'", scorecard: enterprise}
default_scorecard: default
gate: {name: invoiced, when: "invoices_30d >= 1"}
flags:
  quiet_week: {when: "n7 == 0", subtract: 15}
  unhappy: {when: "coalesce(sat, 5) < 3", cap_band: yellow}
bands: [{name: green, min: 70}, {name: yellow, min: 40}, {name: red, min: 0}]
freshness: {events: never, tickets: never, invoices: never}
"""


def _aggregation_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Eight more accounts with 100 days of random (seeded) activity, NULLs included."""
    rng = random.Random(14)
    ids = [f"K{i}" for i in range(8)]
    accounts = [
        (a, f"Acct {a}", ts(rng.uniform(60, 500)), "ann", ["smb", "enterprise"][i % 2],
         None, None, None, rng.choice([None, 3, 10, 40]), rng.choice([None, 5000.0, 80000.0]),
         dt.date(2024, 1 + i % 12, 15), None, None, None)
        for i, a in enumerate(ids)
    ]  # fmt: skip
    events = [
        (f"k{n}", rng.choice(ids[:-1]), ts(rng.uniform(0.001, 100)),
         rng.choice(["login", "export"]), f"u{rng.randrange(6)}", None,
         rng.choice([None, 1.5, 2.0, 7.25, 11.0]))
        for n in range(400)
    ]  # fmt: skip
    tickets = [
        (f"kt{n}", rng.choice(ids), ts(rng.uniform(0.5, 90)), None, "normal", "open", None,
         None, rng.choice([None, 1.0, 2.0, 4.5, 5.0]))
        for n in range(40)
    ]  # fmt: skip
    ratings = [
        (a, ts(rng.uniform(1, 150)), rng.choice(["green", "yellow", "red"]), "ann", None)
        for a in ids[:5]
    ]
    invoices = [
        (f"ki{n}", rng.choice(ids[1:]), ts(rng.uniform(0.2, 70)), 100.0, "paid", None, None)
        for n in range(20)
    ]
    return {
        "accounts": accounts,
        "events": events,
        "tickets": tickets,
        "csm_ratings": ratings,
        "invoices": invoices,
    }


def _starter_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Events for A and B on the starter model's signals (logins, exports, reports)."""
    kinds = ["login", "export", "report_created"]
    return {
        "events": [
            (f"x{i}", "AB"[i % 2], ts(i * 1.7), kinds[i % 3], f"u{i % 5}", None, None)
            for i in range(120)
        ]
    }


def starter_model() -> str:
    """The starter model every workspace begins with."""
    source = resources.files("vitalsign.store").joinpath("starter_model.yml")
    return source.read_text(encoding="utf-8")


@dataclass(frozen=True)
class World:
    """Rows added to the tiny world, the model text, and overrides (account, target, value)."""

    name: str
    model: str
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    sql: tuple[str, ...] = ()
    overrides: tuple[tuple[str, str, str], ...] = ()


TINY = (FIXTURES / "models" / "tiny.yml").read_text(encoding="utf-8")
WORLDS = {
    w.name: w
    for w in [
        World("tiny", TINY),
        World("starter", starter_model(), _starter_rows()),
        World(
            "nulls",
            NULL_MODEL,
            NULL_ROWS,
            ("UPDATE accounts SET arr = NULL WHERE account_id = 'B'",),
        ),
        World("aggregations", AGGREGATIONS_MODEL, _aggregation_rows()),
        World(
            "overrides",
            TINY + "overrides:\n  band: true\n  signals: [csm, nps]\n",
            overrides=(("B", "csm", "green"), ("A", "band", "red"), ("C", "nps", "9")),
        ),
    ]
}
ONE_DATE = [T]
WEEKLY = [T - dt.timedelta(days=7 * k) for k in range(3, -1, -1)]  # evenly spaced: bit masks


def load_world(workspace: Workspace, world: World) -> None:
    """Fill a fresh workspace with the world: rows, statements, history and overrides."""
    load_tiny_world(workspace.duckdb, world.rows)
    for statement in world.sql:
        workspace.duckdb.execute(statement)
    bring_up_to_date(workspace.duckdb)  # account_history, read by every engine
    for account, target, value in world.overrides:
        add_override(
            workspace.duckdb, account, target, value, "matrix", "ann",
            created_at=dt.datetime(2023, 12, 1), expires_at=dt.datetime(2024, 6, 1),
        )  # fmt: skip


def arrow_tables(workspace: Workspace) -> dict[str, pa.Table]:
    """Every canonical table of the workspace (and account_history) as Arrow."""
    found = {}
    for name in TABLES:
        arrow = workspace.duckdb.execute(f"SELECT * FROM {name}").arrow()
        found[name] = arrow.read_all() if hasattr(arrow, "read_all") else arrow
    return found


def nan_for_null(arrow: pa.Table) -> pa.Table:
    """`arrow` as a pandas round trip leaves it: every NULL double becomes NaN.

    (Not through pandas itself: an integer column with NULLs would come back as floats,
    which Ibis's pyspark memtable then loads as all NULL, a loss no engine could undo.)
    """
    columns = [
        pc.fill_null(column, float("nan")) if pa.types.is_floating(column.type) else column
        for column in arrow.columns
    ]
    return pa.table(columns, schema=arrow.schema)


def loaded(arrow: pa.Table, route: str) -> pa.Table:
    """The rows an engine receives by `route`: "arrow" (NULL stays NULL) or "pandas" (NaN)."""
    return arrow if route == "arrow" else nan_for_null(arrow)


def spark_backend(spark: Any, tables: dict[str, pa.Table], route: str) -> Any:
    """Ibis on Spark holding `tables` as temporary views, loaded by `route` (`loaded`)."""
    backend = ibis.pyspark.connect(spark)
    for name, arrow in tables.items():
        spark.createDataFrame(loaded(arrow, route)).createOrReplaceTempView(name)
    return backend


def postgres_backend(url: str, schema: str, tables: dict[str, pa.Table], route: str) -> Any:
    """Ibis on PostgreSQL holding `tables` in `schema`, loaded by `route` (`loaded`).

    By the "pandas" route a NULL double arrives as NaN, which PostgreSQL keeps as NaN.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    args = {
        "user": parts.username,
        "password": parts.password,
        "host": parts.hostname,
        "port": parts.port or 5432,
        "database": parts.path.lstrip("/") or "postgres",
    }
    admin = ibis.postgres.connect(**args)
    admin.raw_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    admin.disconnect()
    backend = ibis.postgres.connect(schema=schema, **args)
    for name, arrow in tables.items():
        backend.create_table(name, schema=ibis.Schema.from_pyarrow(arrow.schema))
        names = ", ".join(arrow.column_names)
        with (
            backend.con.cursor() as cursor,
            cursor.copy(f"COPY {schema}.{name} ({names}) FROM STDIN") as copy,
        ):
            for row in loaded(arrow, route).to_pylist():
                copy.write_row(list(row.values()))
    backend.con.commit()
    return backend
