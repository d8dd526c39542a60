"""Scoring benchmark: the Ibis engine against one hand-written DuckDB query.

Generates N accounts and M product events (plus tickets and invoices) inside DuckDB,
scores one date with a ~20-signal model and checks the issue's targets:

* one date: `compute_scores` takes at most 1.5x one hand-written DuckDB SQL query that
  computes the same aggregates (measured in the same run);
* peak memory (RSS) of a one-date scoring run under 4 GiB;
* the 52-date weekly backfill (one pass over each table, engine/one_pass.py, scored a batch
  at a time as `vitalsign backfill` does, without writing snapshots) costs at most 2.5x the
  floor query (bench/backfill_floor.py) and 12x one date, with a peak RSS under 4 GiB (in a
  child process). The engine's former backfill, which joins every row to each date whose
  window holds it, is timed beside it (`--skip-date-join` leaves it out).

    .venv/bin/python bench/score.py                                   # 100k accounts, 50M events
    .venv/bin/python bench/score.py --accounts 2000 --events 500000   # a quick run
    .venv/bin/python bench/score.py --accounts 10000 --events 5000000 --skip-date-join \
        --workdir bench/out/10k                                       # one point of the curve

The generated workspace is kept in `--workdir` and reused when the sizes match. Results are
also written to `<workdir>/results.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import ibis
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from backfill_floor import time_floor_and_cpu
from vitalsign.engine.backfill import shared_signals
from vitalsign.engine.engine_scoring import score_in_engine
from vitalsign.engine.run import backfill as run_backfill
from vitalsign.engine.run import batch_size_for, compute_scores
from vitalsign.engine.scoring import ScoredFrame, score_frame
from vitalsign.engine.signals import signal_column, signal_table
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace

AS_OF = dt.date(2025, 6, 2)  # the scoring date (a Monday); data covers the 2 years before it
HISTORY_DAYS = 730
GENERATOR_VERSION = 2  # bump when the generated data changes, so old databases are rebuilt
CHILD_MODES = ("score", "baseline", "batch", "writes", "onepass", "onepass_engine")
TARGET_ENGINE_RATIO = 1.5
TARGET_BACKFILL_RATIO = 12.0  # the one-pass backfill against one date
TARGET_FLOOR_RATIO = 2.5  # the one-pass backfill against the floor query
TARGET_PEAK_GIB = 4.0

console = Console(highlight=False)
R = TypeVar("R")

# ------------------------------------------------------------------------------------------
# The model: 23 signals (17 on tables) over events, tickets and invoices.
# ------------------------------------------------------------------------------------------
MODEL_YAML = """\
name: bench
description: The benchmark model, about 20 signals over events, tickets and invoices.
min_coverage: 0.5

signals:
  # --- product usage (events) ---
  logins_7d:
    table: events
    aggregate: count
    filter: "event == 'login'"
    window: 7d
  logins_30d:
    table: events
    aggregate: count
    filter: "event == 'login'"
    window: 30d
    scale: {type: linear, low: 0, high: 40}
  events_90d:
    table: events
    aggregate: count
    window: 90d
    scale: {type: percentile}
  key_actions_30d:
    table: events
    aggregate: count
    filter: "event in ('report_created', 'export')"
    window: 30d
    scale: {type: percentile}
  active_users_30d:
    table: events
    aggregate: count_distinct
    column: user_id
    window: 30d
  quantity_30d:
    table: events
    aggregate: sum
    column: quantity
    window: 30d
    scale: {type: percentile}
  mean_quantity_30d:
    table: events
    aggregate: mean
    column: quantity
    window: 30d
    scale: {type: linear, low: 10, high: 80}
  max_export_quantity_90d:
    table: events
    aggregate: max
    column: quantity
    filter: "event == 'export'"
    window: 90d
    scale: {type: linear, low: 20, high: 95}
  last_feature_30d:
    table: events
    aggregate: latest
    column: feature
    window: 30d
    scale:
      type: categorical
      map: {dashboards: 100, reports: 90, exports: 80, api: 80, alerts: 60}
      default: 40
  days_since_login:
    table: events
    aggregate: days_since_last
    filter: "event == 'login'"
    window: 90d
    missing: 0
    scale: {type: linear, low: 3, high: 30, better: lower}
  logins_change:
    change: logins_30d
    scale: {type: linear, low: -0.5, high: 0.2}
  login_trend:
    trend: logins_7d
    windows: 4
    scale: {type: linear, low: -3, high: 1}
  logins_vs_baseline:
    baseline: logins_7d
    windows: 4
    scale: {type: linear, low: 0.3, high: 1.0}
  seats:
    attribute: seats
  seat_utilisation:
    ratio: [active_users_30d, seats]
    scale: {type: linear, low: 0.1, high: 0.8}
  days_to_renewal:
    attribute: days_to_renewal

  # --- support (tickets) ---
  tickets_90d:
    table: tickets
    aggregate: count
    window: 90d
    scale: {type: percentile, better: lower}
  urgent_tickets_90d:
    table: tickets
    aggregate: count
    filter: "priority in ('high', 'urgent')"
    window: 90d
    scale:
      type: thresholds
      below: 100
      steps: [{min: 1, points: 60}, {min: 3, points: 20}, {min: 5, points: 0}]
  ticket_satisfaction_180d:
    table: tickets
    aggregate: mean
    column: satisfaction
    window: 180d
    scale: {type: linear, low: 2, high: 4.5}

  # --- financial (invoices) ---
  failed_payments_90d:
    table: invoices
    aggregate: count
    filter: "status == 'failed'"
    window: 90d
    scale: {type: boolean, if_true: 0, if_false: 100}
  invoices_90d:
    table: invoices
    aggregate: count
    window: 90d
  invoiced_365d:
    table: invoices
    aggregate: sum
    column: amount
    window: 365d
    scale: {type: percentile}
  open_invoices_365d:
    table: invoices
    aggregate: count
    filter: "status == 'open'"
    window: 365d
    scale: {type: thresholds, below: 100, steps: [{min: 1, points: 50}, {min: 3, points: 0}]}

scorecards:
  default:
    usage:
      weight: 2
      signals: {logins_30d: 1, events_90d: 1, key_actions_30d: 1, days_since_login: 1,
                logins_change: 1, login_trend: 1, logins_vs_baseline: 1}
    adoption:
      signals: {seat_utilisation: 2, quantity_30d: 1, mean_quantity_30d: 1,
                max_export_quantity_90d: 1, last_feature_30d: 1}
    support:
      signals: {tickets_90d: 1, urgent_tickets_90d: 1, ticket_satisfaction_180d: 1}
    financial:
      signals: {failed_payments_90d: 1, invoiced_365d: 1, open_invoices_365d: 1}
  enterprise:
    usage:
      weight: 2
      signals: {seat_utilisation: 2, key_actions_30d: 1, login_trend: 1,
                logins_vs_baseline: 1, days_since_login: 1}
    relationship:
      weight: 1.5
      groups:
        support:
          signals: {urgent_tickets_90d: 1, ticket_satisfaction_180d: 1}
        adoption:
          signals: {quantity_30d: 1, last_feature_30d: 1}
    financial:
      signals: {failed_payments_90d: 1, invoiced_365d: 1}

segments:
  - name: enterprise
    when: "segment == 'enterprise'"
    scorecard: enterprise
default_scorecard: default

gate:
  name: billed
  when: "invoices_90d >= 1"

flags:
  renewal_soon_and_quiet:
    when: "days_to_renewal <= 60 and days_since_login >= 14"
    subtract: 10
  urgent_tickets:
    when: "urgent_tickets_90d >= 3"
    cap_band: yellow

bands:
  - {name: green, min: 70}
  - {name: yellow, min: 40}
  - {name: red, min: 0}
"""


def load_bench_model() -> LoadedModel:
    """Parse and validate the benchmark model."""
    return parse_model(MODEL_YAML, "<bench model>")


# ------------------------------------------------------------------------------------------
# Data generation: deterministic (hash-based, not random()), all inside DuckDB.
# ------------------------------------------------------------------------------------------
EVENTS_PER_ACCOUNT_SKEW = 1.5  # account index = N * u**1.5: a few accounts are much busier
TICKETS_PER_ACCOUNT = 8
INVOICE_MONTHS = 24


def _ts(day: dt.date) -> str:
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def generation_sql(accounts: int, events: int) -> list[tuple[str, str]]:
    """Return (label, statement) pairs that fill the canonical tables."""
    start = AS_OF - dt.timedelta(days=HISTORY_DAYS)
    span_us = HISTORY_DAYS * 86_400_000_000
    width = max(6, len(str(accounts)))
    step_us = span_us / events  # event i happens in [i, i+1) * step: an append-only log
    acct = f"'acct-' || lpad(({{i}})::VARCHAR, {width}, '0')"
    return [
        (
            "hash macro",
            # h: a 64-bit hash of (i, salt); DuckDB's own hash(i, salt) is strongly correlated
            # across salts, so the salt is xor-ed in and the result hashed again
            "CREATE OR REPLACE TEMP MACRO h(i, s) AS hash(xor(hash(i), hash(s)))",
        ),
        (
            "uniform macro",
            # u: a uniform double in [0, 1): deterministic at any thread count, unlike random()
            "CREATE OR REPLACE TEMP MACRO u(i, s) AS (h(i, s) >> 11)::DOUBLE / 9007199254740992.0",
        ),
        (
            f"accounts ({accounts:,})",
            f"""
            INSERT INTO accounts (account_id, name, created_at, owner, segment, plan, industry,
                                  seats, arr, renewal_date)
            WITH a AS (
                SELECT i, u(i, 'segment') AS us, u(i, 'seats') AS useats
                FROM range(1, {accounts} + 1) t(i)
            ), b AS (
                SELECT *,
                    CASE WHEN us < 0.6 THEN 'smb' WHEN us < 0.9 THEN 'mid-market'
                         ELSE 'enterprise' END AS segment,
                    CASE WHEN us < 0.6 THEN 3 + floor(useats * 25)
                         WHEN us < 0.9 THEN 20 + floor(useats * 120)
                         ELSE 100 + floor(useats * 900) END::BIGINT AS seats
                FROM a
            )
            SELECT {acct.format(i="i")},
                'Account ' || i,
                {_ts(start)} + to_microseconds((u(i, 'created') * {span_us})::BIGINT),
                'csm-' || lpad((h(i, 'owner') % 40)::VARCHAR, 2, '0'),
                segment,
                ['starter', 'growth', 'scale'][1 + (h(i, 'plan') % 3)::BIGINT],
                ['saas', 'retail', 'finance', 'health', 'media'][
                    1 + (h(i, 'industry') % 5)::BIGINT
                ],
                seats,
                round(seats * (300 + 900 * u(i, 'price')), 2),
                ({_ts(AS_OF)} + to_days((h(i, 'renewal') % 395)::INTEGER - 30))::DATE
            FROM b
            """,
        ),
        (
            f"events ({events:,})",
            f"""
            INSERT INTO events (event_id, account_id, timestamp, event, user_id, feature, quantity)
            WITH r AS (
                SELECT i,
                    1 + least(floor({accounts} * pow(u(i, 'account'), {EVENTS_PER_ACCOUNT_SKEW})),
                              {accounts} - 1)::BIGINT AS a,
                    u(i, 'event') AS ue,
                    u(i, 'quantity') AS uq
                FROM range({events}) t(i)
            ), e AS (
                SELECT *,
                    CASE WHEN ue < 0.40 THEN 'login' WHEN ue < 0.65 THEN 'page_view'
                         WHEN ue < 0.77 THEN 'report_created' WHEN ue < 0.85 THEN 'export'
                         WHEN ue < 0.95 THEN 'api_call' ELSE 'invite_sent' END AS event
                FROM r
            )
            SELECT 'evt-' || i,
                {acct.format(i="a")},
                {_ts(start)} + to_microseconds(((i + u(i, 'jitter')) * {step_us!r})::BIGINT),
                event,
                {acct.format(i="a")} || '-u'
                    || ((h(i, 'user') % (1 + h(a, 'users') % 30)))::VARCHAR,
                ['dashboards', 'reports', 'exports', 'api', 'alerts', 'admin', 'search',
                 'billing'][1 + (h(i, 'feature') % 8)::BIGINT],
                CASE WHEN event IN ('report_created', 'export', 'api_call')
                     THEN round(100 * uq * uq, 2) END
            FROM e
            """,
        ),
        (
            f"tickets ({accounts * TICKETS_PER_ACCOUNT:,})",
            f"""
            INSERT INTO tickets (ticket_id, account_id, created_at, solved_at, priority, status,
                                 subject, first_response_hours, satisfaction)
            WITH r AS (
                SELECT i, 1 + h(i, 't-account') % {accounts} AS a,
                    {_ts(start)} + to_microseconds((u(i, 't-created') * {span_us})::BIGINT)
                        AS created_at,
                    u(i, 't-priority') AS up, u(i, 't-csat') AS uc
                FROM range({accounts * TICKETS_PER_ACCOUNT}) t(i)
            )
            SELECT 'tkt-' || i, {acct.format(i="a")}, created_at,
                created_at + to_microseconds((u(i, 't-solve') * 259200e6)::BIGINT),
                CASE WHEN up < 0.4 THEN 'low' WHEN up < 0.8 THEN 'normal'
                     WHEN up < 0.95 THEN 'high' ELSE 'urgent' END,
                CASE WHEN u(i, 't-status') < 0.9 THEN 'solved' ELSE 'open' END,
                'Ticket ' || i,
                round(48 * u(i, 't-frt'), 1),
                CASE WHEN uc < 0.6 THEN 1 + floor(uc / 0.6 * 5) END
            FROM r
            """,
        ),
        (
            f"invoices (up to {accounts * INVOICE_MONTHS:,})",
            f"""
            INSERT INTO invoices (invoice_id, account_id, issued_at, amount, status, due_at,
                                  paid_at)
            WITH r AS (
                SELECT a.i AS a, m.i AS m,
                    CASE WHEN u(a.i, 'billing') < 0.1 THEN 12 ELSE 1 END AS every,
                    {_ts(AS_OF)} - to_days((m.i * 30 + h(a.i, 'bill-day') % 30)::INTEGER)
                        AS issued_at,
                    u(a.i * 100 + m.i, 'i-status') AS us
                FROM range(1, {accounts} + 1) a(i), range({INVOICE_MONTHS}) m(i)
            )
            SELECT 'inv-' || a || '-' || m, {acct.format(i="r.a")}, issued_at,
                round(acc.arr / 12 * every, 2),
                CASE WHEN us < 0.03 THEN 'failed' WHEN us < 0.07 THEN 'open'
                     WHEN us < 0.08 THEN 'void' ELSE 'paid' END,
                issued_at + INTERVAL 30 DAY,
                CASE WHEN us >= 0.08 THEN issued_at + INTERVAL 5 DAY END
            FROM r JOIN accounts acc ON acc.account_id = {acct.format(i="r.a")}
            WHERE m % every = 0
            """,
        ),
    ]


@dataclass
class DataInfo:
    """What the benchmark's workspace holds."""

    accounts: int
    events: int
    tickets: int
    invoices: int
    reused: bool
    seconds: float
    database_bytes: int


def _meta_path(ws_dir: Path) -> Path:
    return ws_dir / "bench_meta.json"


def _wanted_meta(accounts: int, events: int) -> dict[str, Any]:
    return {
        "accounts": accounts,
        "events": events,
        "as_of": AS_OF.isoformat(),
        "generator": GENERATOR_VERSION,
    }


def _counts(ws: Workspace) -> dict[str, int]:
    return {
        t: int(ws.duckdb.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
        for t in ("accounts", "events", "tickets", "invoices")
    }


def prepare_workspace(workdir: Path, accounts: int, events: int) -> tuple[Workspace, DataInfo]:
    """Open the benchmark workspace, generating its data unless it already matches."""
    ws_dir = workdir / "ws"
    wanted = _wanted_meta(accounts, events)
    meta = _meta_path(ws_dir)
    if meta.exists() and json.loads(meta.read_text()) == wanted:
        ws = open_workspace(ws_dir)
        counts = _counts(ws)
        if counts["accounts"] == accounts and counts["events"] == events:
            console.print(
                f"[green]Reusing[/] the generated workspace {ws_dir} "
                f"({accounts:,} accounts, {events:,} events)"
            )
            size = ws.database_path.stat().st_size
            return ws, DataInfo(**counts, reused=True, seconds=0.0, database_bytes=size)
        ws.close()
    if ws_dir.exists():
        if not (ws_dir / "vitalsign.yml").exists():
            raise SystemExit(f"{ws_dir} exists and is not a workspace; pick another --workdir")
        console.print(f"[yellow]Regenerating[/] {ws_dir}: sizes or generator changed")
        shutil.rmtree(ws_dir)
    ws = init_workspace(ws_dir)
    started = time.perf_counter()
    for label, statement in generation_sql(accounts, events):
        step = time.perf_counter()
        with console.status(f"Generating {label} ..."):
            ws.duckdb.execute(statement)
        console.log(f"generated {label} in {time.perf_counter() - step:.1f}s")
    with console.status("Checkpointing ..."):
        ws.duckdb.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    meta.write_text(json.dumps(wanted, indent=2))
    counts = _counts(ws)
    size = ws.database_path.stat().st_size
    console.log(f"generated the workspace in {seconds:.1f}s ({size / 2**30:.2f} GiB on disk)")
    return ws, DataInfo(**counts, reused=False, seconds=seconds, database_bytes=size)


# ------------------------------------------------------------------------------------------
# The baseline: one hand-written DuckDB query computing the same values as the engine.
# ------------------------------------------------------------------------------------------
def baseline_sql(as_of: dt.date) -> str:
    """Return the hand-written query of every signal of the bench model as of `as_of`."""

    def t(days: int) -> str:  # the instant `days` before the scoring date
        return _ts(as_of - dt.timedelta(days=days))

    return f"""
    WITH ev AS (
        SELECT account_id,
            count(*) FILTER (WHERE event = 'login' AND timestamp >= {t(7)}) AS logins_7d,
            count(*) FILTER (WHERE event = 'login' AND timestamp >= {t(14)}
                             AND timestamp < {t(7)}) AS logins_7d_w1,
            count(*) FILTER (WHERE event = 'login' AND timestamp >= {t(21)}
                             AND timestamp < {t(14)}) AS logins_7d_w2,
            count(*) FILTER (WHERE event = 'login' AND timestamp >= {t(28)}
                             AND timestamp < {t(21)}) AS logins_7d_w3,
            count(*) FILTER (WHERE event = 'login' AND timestamp >= {t(35)}
                             AND timestamp < {t(28)}) AS logins_7d_w4,
            count(*) FILTER (WHERE event = 'login' AND timestamp >= {t(30)}) AS logins_30d,
            count(*) FILTER (WHERE event = 'login' AND timestamp >= {t(60)}
                             AND timestamp < {t(30)}) AS logins_30d_prev,
            count(*) AS events_90d,
            count(*) FILTER (WHERE event IN ('report_created', 'export')
                             AND timestamp >= {t(30)}) AS key_actions_30d,
            count(DISTINCT user_id) FILTER (WHERE timestamp >= {t(30)}) AS active_users_30d,
            sum(quantity) FILTER (WHERE timestamp >= {t(30)}) AS quantity_30d,
            avg(quantity) FILTER (WHERE timestamp >= {t(30)}) AS mean_quantity_30d,
            max(quantity) FILTER (WHERE event = 'export') AS max_export_quantity_90d,
            arg_max(feature, timestamp) FILTER (WHERE timestamp >= {t(30)})
                AS last_feature_30d,
            max(timestamp) FILTER (WHERE event = 'login') AS last_login
        FROM events
        WHERE timestamp >= {t(90)} AND timestamp < {t(0)}
        GROUP BY account_id
    ), tk AS (
        SELECT account_id,
            count(*) FILTER (WHERE created_at >= {t(90)}) AS tickets_90d,
            count(*) FILTER (WHERE created_at >= {t(90)} AND priority IN ('high', 'urgent'))
                AS urgent_tickets_90d,
            avg(satisfaction) AS ticket_satisfaction_180d
        FROM tickets
        WHERE created_at >= {t(180)} AND created_at < {t(0)}
        GROUP BY account_id
    ), inv AS (
        SELECT account_id,
            count(*) FILTER (WHERE issued_at >= {t(90)} AND status = 'failed')
                AS failed_payments_90d,
            count(*) FILTER (WHERE issued_at >= {t(90)}) AS invoices_90d,
            sum(amount) AS invoiced_365d,
            count(*) FILTER (WHERE status = 'open') AS open_invoices_365d
        FROM invoices
        WHERE issued_at >= {t(365)} AND issued_at < {t(0)}
        GROUP BY account_id
    ), joined AS (
        SELECT a.account_id, a.name, a.owner, a.segment, a.arr, a.seats,
            (epoch(a.renewal_date::TIMESTAMP) - epoch({t(0)})) / 86400 AS days_to_renewal,
            coalesce(ev.logins_7d, 0) AS logins_7d,
            coalesce(ev.logins_7d_w1, 0) AS logins_7d_w1,
            coalesce(ev.logins_7d_w2, 0) AS logins_7d_w2,
            coalesce(ev.logins_7d_w3, 0) AS logins_7d_w3,
            coalesce(ev.logins_7d_w4, 0) AS logins_7d_w4,
            coalesce(ev.logins_30d, 0) AS logins_30d,
            coalesce(ev.logins_30d_prev, 0) AS logins_30d_prev,
            coalesce(ev.events_90d, 0) AS events_90d,
            coalesce(ev.key_actions_30d, 0) AS key_actions_30d,
            coalesce(ev.active_users_30d, 0) AS active_users_30d,
            coalesce(ev.quantity_30d, 0) AS quantity_30d,
            ev.mean_quantity_30d,
            ev.max_export_quantity_90d,
            ev.last_feature_30d,
            (epoch({t(0)}) - epoch(ev.last_login)) / 86400 AS days_since_login,
            coalesce(tk.tickets_90d, 0) AS tickets_90d,
            coalesce(tk.urgent_tickets_90d, 0) AS urgent_tickets_90d,
            tk.ticket_satisfaction_180d,
            coalesce(inv.failed_payments_90d, 0) AS failed_payments_90d,
            coalesce(inv.invoices_90d, 0) AS invoices_90d,
            coalesce(inv.invoiced_365d, 0) AS invoiced_365d,
            coalesce(inv.open_invoices_365d, 0) AS open_invoices_365d
        FROM accounts a
        LEFT JOIN ev USING (account_id)
        LEFT JOIN tk USING (account_id)
        LEFT JOIN inv USING (account_id)
        WHERE a.created_at < {t(0)} AND (a.churned_at IS NULL OR a.churned_at >= {t(0)})
    )
    SELECT * EXCLUDE (logins_7d_w1, logins_7d_w2, logins_7d_w3, logins_7d_w4,
                      logins_30d_prev),
        CASE WHEN logins_30d_prev = 0 THEN NULL
             ELSE (logins_30d - logins_30d_prev)::DOUBLE / logins_30d_prev END
            AS logins_change,
        -- least-squares slope of the last 4 weekly counts (x = 0 oldest .. 3 now)
        (1.5 * logins_7d + 0.5 * logins_7d_w1 - 0.5 * logins_7d_w2 - 1.5 * logins_7d_w3) / 5
            AS login_trend,
        CASE WHEN logins_7d_w1 + logins_7d_w2 + logins_7d_w3 + logins_7d_w4 = 0 THEN NULL
             ELSE logins_7d::DOUBLE
                  / ((logins_7d_w1 + logins_7d_w2 + logins_7d_w3 + logins_7d_w4) / 4) END
            AS logins_vs_baseline,
        CASE WHEN seats = 0 THEN NULL ELSE active_users_30d::DOUBLE / seats END
            AS seat_utilisation
    FROM joined
    """


# ------------------------------------------------------------------------------------------
# Timing helpers
# ------------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Timed runs of one operation: a warm-up, then the timed repeats.

    `runs` are wall-clock seconds (what the targets are about); `cpu` the CPU seconds this
    process used in the same runs, all threads together: less sensitive to other processes
    on the machine, and about 2x the wall time while DuckDB keeps both cores busy.
    """

    warmup: float
    runs: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        """The fastest timed run (wall clock)."""
        return min(self.runs)

    @property
    def best_cpu(self) -> float:
        """The CPU seconds of the least CPU-hungry timed run."""
        return min(self.cpu)


def timed_rounds(
    operations: dict[str, Callable[[], Any]], repeats: int
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Warm every operation up once, then run them in `repeats` interleaved rounds.

    Interleaving (A B C, A B C, ...) exposes every operation to the same background load,
    so their ratios stay meaningful on a shared machine. Returns timings and last results.
    """
    timings: dict[str, Timing] = {}
    results: dict[str, Any] = {}
    for name, fn in operations.items():
        with console.status(f"Warm-up: {name} ..."):
            started = time.perf_counter()
            results[name] = fn()
            timings[name] = Timing(warmup=time.perf_counter() - started)
    for round_number in range(1, repeats + 1):
        for name, fn in operations.items():
            with console.status(f"Round {round_number}/{repeats}: {name} ..."):
                started, cpu = time.perf_counter(), time.process_time()
                results[name] = fn()
                timings[name].runs.append(time.perf_counter() - started)
                timings[name].cpu.append(time.process_time() - cpu)
        console.log(
            f"round {round_number}: "
            + ", ".join(f"{name} {timings[name].runs[-1]:.2f}s" for name in operations)
        )
    return timings, results


def load_average() -> float:
    """The 1-minute load average (other processes on the machine skew timings)."""
    return os.getloadavg()[0]


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s ({seconds / 60:.1f} min)"


# ------------------------------------------------------------------------------------------
# Equality of the engine's signals and the baseline's
# ------------------------------------------------------------------------------------------
def compare_signals(engine: pd.DataFrame, baseline: pd.DataFrame, model: LoadedModel) -> int:
    """Assert every signal of every account matches between engine and baseline.

    Returns the number of values compared.
    """
    names = list(model.spec.signals)
    assert len(engine) == len(baseline), f"{len(engine)} engine rows, {len(baseline)} baseline"
    left = engine.set_index("account_id").sort_index()
    right = baseline.set_index("account_id").sort_index()
    assert left.index.equals(right.index), "the engine and the baseline score different accounts"
    compared = 0
    for name in names:
        mine, theirs = left[signal_column(name)], right[name]
        if name == "last_feature_30d":
            same = (mine.isna() & theirs.isna()) | (mine == theirs)
            assert bool(same.all()), f"{name}: {int((~same).sum())} accounts differ"
        else:
            a = pd.to_numeric(mine, errors="raise").to_numpy(dtype="float64")
            b = pd.to_numeric(theirs, errors="raise").to_numpy(dtype="float64")
            same = np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
            if not same.all():
                bad = np.flatnonzero(~same)[:5]
                raise AssertionError(
                    f"{name}: {int((~same).sum())} accounts differ, e.g. "
                    + ", ".join(f"{left.index[i]}: {a[i]!r} vs {b[i]!r}" for i in bad)
                )
        compared += len(mine)
    return compared


def compare_scores(one: ScoredFrame, batch: ScoredFrame) -> tuple[float, int]:
    """Assert the backfill scored the scoring date like the one-date run.

    Not bit for bit: DuckDB sums floats in a plan-dependent order, so a `sum` differs in the
    last bits between the one-date and the many-date query, and a percentile scale turns
    such a difference between tied accounts into a tiny rank difference. Returns the
    largest score difference and the number of accounts whose band differs.
    """
    mine = one.scores.set_index("account_id").sort_index()
    theirs = batch.scores[batch.scores["as_of"] == pd.Timestamp(AS_OF)]
    theirs = theirs.set_index("account_id").sort_index()
    assert mine.index.equals(theirs.index), "backfill scored other accounts on the scoring date"
    a = mine["score"].to_numpy(dtype="float64")
    b = theirs["score"].to_numpy(dtype="float64")
    assert (np.isnan(a) == np.isnan(b)).all(), "backfill and one-date scores differ in NaNs"
    largest = float(np.nanmax(np.abs(a - b))) if (~np.isnan(a)).any() else 0.0
    assert largest < 0.01, f"backfill scores differ by up to {largest} points"
    other_band = int((mine["band"] != theirs["band"]).sum())
    assert other_band <= len(mine) // 10_000, f"{other_band} accounts get another band"
    return largest, other_band


# ------------------------------------------------------------------------------------------
# Peak memory: a child process scores one date; the parent reads its maximum RSS.
# ------------------------------------------------------------------------------------------
def peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM), in bytes.

    Not `getrusage`: on Linux a child's ru_maxrss also counts the parent's resident memory
    at the time of the fork (the pre-exec copy), so a big parent inflates every child.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")  # not Linux


def child_main(workdir: Path, mode: str, dates: int = 52) -> None:
    """In a child process: run one operation; print its wall time and peak RSS."""
    if mode == "writes":  # the real backfill writes snapshots: into a copy of the data
        shutil.rmtree(workdir / "ws-writes", ignore_errors=True)
        shutil.copytree(workdir / "ws", workdir / "ws-writes")
    ws = open_workspace(workdir / ("ws-writes" if mode == "writes" else "ws"))
    model = load_bench_model()
    detail: dict[str, float] = {}
    started = time.perf_counter()
    if mode == "writes":  # a first backfill, then the same again (a model edited, say)
        run_backfill(ws, backfill_dates(dates), model, show_progress=False)
        detail["first_seconds"] = time.perf_counter() - started
        run_backfill(ws, backfill_dates(dates), model, show_progress=False)
        detail["again_seconds"] = time.perf_counter() - started - detail["first_seconds"]
        rows = ws.duckdb.execute("SELECT count(*) FROM scores").fetchone()[0]
        detail["item_rows"] = float(
            ws.duckdb.execute("SELECT count(*) FROM score_items").fetchone()[0]
        )
    elif mode == "score":
        rows = len(compute_scores(ws.backend, model, [AS_OF]).scores)
    elif mode == "baseline":
        rows = len(ws.duckdb.sql(baseline_sql(AS_OF)).df())
    elif mode in ("onepass", "onepass_engine"):
        accounts = _counts(ws)["accounts"]
        scoring = "engine" if mode == "onepass_engine" else "driver"
        run = time_one_pass(
            ws, model, backfill_dates(dates), batch_size_for(accounts), True, accounts, scoring
        )
        detail = {"query": run.query_seconds, "scoring": run.scoring_seconds}
        rows = len(run.last.scores)
    else:  # the last backfill batch, its query and its scoring timed apart
        size = batch_size_for(_counts(ws)["accounts"])
        frame = signal_table(ws.backend, model.spec, backfill_dates(size)).execute()
        detail["query"] = time.perf_counter() - started
        frame["as_of"] = pd.to_datetime(frame["as_of"])  # as compute_scores does
        scored = score_frame(frame, model.spec)
        detail["scoring"] = time.perf_counter() - started - detail["query"]
        detail["item_rows"] = float(len(scored.items))
        rows = len(scored.scores)
    seconds = time.perf_counter() - started
    ws.close()
    if mode == "writes":
        shutil.rmtree(workdir / "ws-writes")
    print(
        json.dumps(
            {"seconds": seconds, "rows": rows, "peak_bytes": peak_rss_bytes(), "detail": detail}
        )
    )


@dataclass
class ChildRun:
    """A child process's wall time and peak resident set size (own VmHWM, and ru_maxrss)."""

    seconds: float
    peak_bytes: int
    ru_maxrss_bytes: int
    detail: dict[str, float]


def run_child(workdir: Path, mode: str, dates: int = 52) -> ChildRun:
    """Run this script in `mode` in a child process; return its time and peak RSS."""
    command = [sys.executable, __file__, "--workdir", str(workdir), f"--child-{mode}"]
    command += ["--dates", str(dates)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    # wait4: this child's own rusage (RUSAGE_CHILDREN would take the max over all children)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"child {mode} failed with exit code {process.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    return ChildRun(
        seconds=float(result["seconds"]),
        peak_bytes=int(result["peak_bytes"]),
        ru_maxrss_bytes=usage.ru_maxrss * 1024,
        detail=result["detail"],
    )


# ------------------------------------------------------------------------------------------
# Backfill
# ------------------------------------------------------------------------------------------
def backfill_dates(count: int) -> list[dt.date]:
    """Return `count` weekly dates ending at the scoring date."""
    return [AS_OF - dt.timedelta(weeks=k) for k in range(count - 1, -1, -1)]


@dataclass
class BackfillRun:
    """One timed backfill: wall and CPU seconds, per batch, and the last batch's scores."""

    seconds: float
    cpu_seconds: float
    batch_size: int
    per_batch: list[float]
    scoring_seconds: float
    last: ScoredFrame


def time_backfill(
    ws: Workspace, model: LoadedModel, dates: Sequence[dt.date], batch_size: int
) -> BackfillRun:
    """Score `dates` in batches like `backfill` does, without writing snapshots.

    Each batch runs `compute_scores`'s two steps (the query, then scoring) so that the
    scoring's share is known.
    """
    ordered = sorted(set(dates))
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    per_batch: list[float] = []
    scoring = 0.0
    last: ScoredFrame | None = None
    started, cpu = time.perf_counter(), time.process_time()
    for number, batch in enumerate(batches, 1):
        step = time.perf_counter()
        with console.status(f"Backfill batch {number}/{len(batches)} ({len(batch)} dates) ..."):
            frame = signal_table(ws.backend, model.spec, batch).execute()
            queried = time.perf_counter()
            frame["as_of"] = pd.to_datetime(frame["as_of"])  # as compute_scores does
            last = score_frame(frame, model.spec)
        scoring += time.perf_counter() - queried
        per_batch.append(time.perf_counter() - step)
        console.log(
            f"backfill batch {number}/{len(batches)}: {batch[0]} .. {batch[-1]} "
            f"in {per_batch[-1]:.1f}s"
        )
    assert last is not None
    return BackfillRun(
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
        batch_size=batch_size,
        per_batch=per_batch,
        scoring_seconds=scoring,
        last=last,
    )


@dataclass
class OnePassRun:
    """One timed one-pass backfill: the shared query, then each batch read back and scored."""

    seconds: float
    cpu_seconds: float
    query_seconds: float
    scoring_seconds: float
    last: ScoredFrame


def time_one_pass(
    ws: Workspace,
    model: LoadedModel,
    dates: Sequence[dt.date],
    batch_size: int,
    quiet: bool,
    accounts: int = 0,
    scoring: str = "driver",
) -> OnePassRun:
    """Score `dates` as `backfill` does (one query kept in the engine, in account shards
    past MAX_GRID_ROWS for `accounts`), without writing; `scoring` "engine" scores each
    batch inside the engine (engine/engine_scoring.py) instead of in pandas."""
    ordered = sorted(set(dates))
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    query = scoring = 0.0
    last: ScoredFrame | None = None
    started, cpu = time.perf_counter(), time.process_time()
    with shared_signals(ws.backend, model, ordered, accounts) as signals:
        for number, batch in enumerate(batches, 1):
            step = time.perf_counter()
            label = f"One-pass backfill: batch {number}/{len(batches)} ..."
            with console.status(label) if not quiet else contextlib.nullcontext():
                table = signals(batch)  # the first batch runs the one-pass query
                assert table is not None
                if scoring == "engine":  # the query's time is the first batch's read
                    queried = time.perf_counter()
                    last = score_in_engine(table, model.spec)
                    last.items  # noqa: B018 - spelt out, as a snapshot write would
                else:
                    frame = table.execute()
                    queried = time.perf_counter()
                    frame["as_of"] = pd.to_datetime(frame["as_of"])  # as compute_scores does
                    last = score_frame(frame, model.spec)
            query += queried - step
            scoring += time.perf_counter() - queried
            if number == 1 and not quiet:
                console.log(f"one-pass query and first batch read back in {queried - step:.1f}s")
    assert last is not None
    return OnePassRun(
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
        query_seconds=query,
        scoring_seconds=scoring,
        last=last,
    )


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "[bold green]PASS[/]" if ok else "[bold red]FAIL[/]"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the process exit code (1 if a target is missed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--dates", type=int, default=52, help="weekly dates to backfill")
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument(
        "--parent-peak",
        action="store_true",
        help="report this process's peak RSS (an upper bound) instead of rerunning the "
        "one-pass backfill in a child process",
    )
    parser.add_argument(
        "--skip-date-join",
        action="store_true",
        help="do not time the former backfill (every row joined to each date it counts at)",
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="timed runs after the warm-up (best is kept)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="write EXPLAIN ANALYZE of both queries to workdir"
    )
    parser.add_argument(
        "--with-writes",
        action="store_true",
        help="also time `backfill` writing its snapshots (into a copy of the data)",
    )
    parser.add_argument(
        "--scoring",
        choices=["driver", "engine"],
        default="driver",
        help="where the one-pass backfill scores its batches: pandas on the driver, or "
        "inside the engine (compute_scores(..., scoring='engine'))",
    )
    child = parser.add_mutually_exclusive_group()
    for mode in CHILD_MODES:
        child.add_argument(f"--child-{mode}", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    workdir: Path = args.workdir
    for mode in CHILD_MODES:
        if getattr(args, f"child_{mode}"):
            child_main(workdir, mode, args.dates)
            return 0

    model = load_bench_model()
    table_signals = sum(1 for s in model.spec.signals.values() if s.table is not None)
    console.rule(f"vitalsign scoring benchmark: {args.accounts:,} accounts, {args.events:,} events")
    console.print(
        f"model {model.name!r}: {len(model.spec.signals)} signals ({table_signals} on tables), "
        f"scoring date {AS_OF}"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    ws, data = prepare_workspace(workdir, args.accounts, args.events)
    settings = ws.duckdb.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads'), version()"
    ).fetchone()
    console.print(
        f"DuckDB {settings[2]}, threads={settings[1]}, memory_limit={settings[0]} (default, "
        f"not tuned); {os.cpu_count()} CPUs"
    )
    sql = baseline_sql(AS_OF)
    (workdir / "baseline_one_date.sql").write_text(sql)
    engine_sql = str(ibis.to_sql(signal_table(ws.backend, model.spec, [AS_OF]), dialect="duckdb"))
    (workdir / "engine_one_date.sql").write_text(engine_sql)

    # Peak memory first, in child processes (they open the database file: let go of it).
    ws.close()
    with console.status("Measuring peak memory of one-date runs in child processes ..."):
        engine_child = run_child(workdir, "score")
        baseline_child = run_child(workdir, "baseline")
    console.log(
        f"peak RSS: engine {engine_child.peak_bytes / 2**30:.2f} GiB "
        f"({engine_child.seconds:.1f}s from a cold start), "
        f"baseline {baseline_child.peak_bytes / 2**30:.2f} GiB"
    )

    ws = open_workspace(workdir / "ws")
    load_before = load_average()
    timings, last = timed_rounds(
        {
            "baseline": lambda: ws.duckdb.sql(sql).df(),
            "build_sql": lambda: ibis.to_sql(
                signal_table(ws.backend, model.spec, [AS_OF]), dialect="duckdb"
            ),
            "signal_table": lambda: signal_table(ws.backend, model.spec, [AS_OF]).execute(),
            "compute_scores": lambda: compute_scores(ws.backend, model, [AS_OF]),
        },
        args.repeats,
    )
    load_after = load_average()
    base_timing, build_timing = timings["baseline"], timings["build_sql"]
    query_timing, engine_timing = timings["signal_table"], timings["compute_scores"]
    scored: ScoredFrame = last["compute_scores"]
    console.print(f"1-minute load average: {load_before:.2f} before, {load_after:.2f} after")

    compared = compare_signals(last["signal_table"], last["baseline"], model)
    console.print(
        f"[green]✓[/] engine signals equal the baseline's: {compared:,} values "
        f"({len(last['baseline']):,} accounts × {len(model.spec.signals)} signals)"
    )
    if args.explain:
        for name, text in (("engine", engine_sql), ("baseline", sql)):
            plan = ws.duckdb.execute(f"EXPLAIN ANALYZE {text}").fetchall()
            (workdir / f"explain_{name}.txt").write_text("\n".join(str(r[-1]) for r in plan))
        console.print(f"EXPLAIN ANALYZE written to {workdir}/explain_*.txt")

    backfill: dict[str, Any] | None = None
    if not args.skip_backfill:
        dates = backfill_dates(args.dates)
        backfill_load = load_average()
        with console.status("Timing the floor: per-account, per-week aggregates ..."):
            floor, floor_cpu = time_floor_and_cpu(ws.duckdb, dates)
        console.log(f"floor: weekly aggregates {floor:.1f}s (CPU {floor_cpu:.1f}s)")
        passes = time_one_pass(
            ws, model, dates, batch_size_for(data.accounts), False, data.accounts, args.scoring
        )
        console.log(
            f"one-pass backfill: {passes.seconds:.1f}s (query and read-back "
            f"{passes.query_seconds:.1f}s, scoring {passes.scoring_seconds:.1f}s)"
        )
        backfill = {
            "dates": len(dates),
            "floor_weekly_aggregates_seconds": floor,
            "floor_cpu_seconds": floor_cpu,
            "one_pass": {
                "seconds": passes.seconds,
                "cpu_seconds": passes.cpu_seconds,
                "query_seconds": passes.query_seconds,
                "scoring_seconds": passes.scoring_seconds,
            },
        }
        if not args.skip_date_join:
            run = time_backfill(ws, model, dates, batch_size_for(data.accounts))
            backfill |= {
                "seconds": run.seconds,
                "cpu_seconds": run.cpu_seconds,
                "batch_size": run.batch_size,
                "per_batch": run.per_batch,
                "scoring_seconds": run.scoring_seconds,
            }
        backfill["load_average"] = [backfill_load, load_average()]
        if AS_OF in dates:
            largest, other_band = compare_scores(scored, passes.last)
            backfill["same_date_largest_score_difference"] = largest
            backfill["same_date_other_band"] = other_band
            console.print(
                "[green]✓[/] the one-pass backfill scores the scoring date like the one-date "
                f"run (largest difference {largest:.2g} points, {other_band} other bands)"
            )
    ws.close()
    batch_child: ChildRun | None = None
    batch_size = batch_size_for(data.accounts)
    if backfill is not None and args.parent_peak:
        # this process's peak so far bounds the one-pass backfill's from above
        backfill["one_pass"]["child"] = {"peak_bytes": peak_rss_bytes(), "parent": True}
        console.log(f"peak RSS of this process: {peak_rss_bytes() / 2**30:.2f} GiB")
    elif backfill is not None:
        with console.status("Peak memory of the one-pass backfill in a child process ..."):
            mode = "onepass_engine" if args.scoring == "engine" else "onepass"
            one_pass_child = run_child(workdir, mode, args.dates)
        backfill["one_pass"]["child"] = vars(one_pass_child)
        console.log(
            f"one-pass backfill (child): {one_pass_child.seconds:.1f}s, "
            f"peak RSS {one_pass_child.peak_bytes / 2**30:.2f} GiB"
        )
    if backfill is not None and "seconds" in backfill and args.dates >= batch_size:
        with console.status(f"Profiling one {batch_size}-date batch in a child process ..."):
            batch_child = run_child(workdir, "batch")
        backfill["batch_child"] = vars(batch_child)
        console.log(
            f"one {batch_size}-date batch: query {batch_child.detail['query']:.1f}s, "
            f"scoring {batch_child.detail['scoring']:.1f}s, "
            f"peak RSS {batch_child.peak_bytes / 2**30:.2f} GiB"
        )

    if backfill is not None and args.with_writes:
        with console.status(f"Backfilling {args.dates} dates with snapshot writes ..."):
            writes = run_child(workdir, "writes", args.dates)
        backfill["with_writes"] = vars(writes)
        console.log(
            f"backfill with writes: {writes.detail['first_seconds']:.0f}s, "
            f"again over the same dates: {writes.detail['again_seconds']:.0f}s, "
            f"{writes.detail['item_rows']:,.0f} item rows, "
            f"peak RSS {writes.peak_bytes / 2**30:.2f} GiB"
        )

    engine_ratio = engine_timing.best / base_timing.best
    peak_gib = engine_child.peak_bytes / 2**30
    results: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "accounts": data.accounts,
        "events": data.events,
        "tickets": data.tickets,
        "invoices": data.invoices,
        "scored_accounts": len(scored.scores),
        "generation_seconds": data.seconds,
        "generation_reused": data.reused,
        "database_bytes": data.database_bytes,
        "cpus": os.cpu_count(),
        "duckdb": {"version": settings[2], "threads": settings[1], "memory_limit": settings[0]},
        "load_average": [load_before, load_after],
        "baseline": vars(base_timing),
        "engine_build_sql": vars(build_timing),
        "engine_signal_table": vars(query_timing),
        "engine_compute_scores": vars(engine_timing),
        "engine_ratio": engine_ratio,
        "engine_child": vars(engine_child),
        "baseline_child": vars(baseline_child),
        "backfill": backfill,
    }

    table = Table(title=f"Scoring {len(scored.scores):,} accounts, {data.events:,} events")
    table.add_column("measure")
    table.add_column("wall", justify="right")
    table.add_column("CPU", justify="right")
    table.add_column("target", justify="right")
    table.add_column("", justify="center")

    def timing_row(label: str, timing: Timing) -> None:
        table.add_row(label, _fmt(timing.best), _fmt(timing.best_cpu), "", "")

    timing_row("hand-written DuckDB query (baseline)", base_timing)
    timing_row("engine: build + compile the Ibis query", build_timing)
    timing_row("engine: signal_table(...).execute()", query_timing)
    table.add_row(
        "engine: pandas scoring (difference)",
        _fmt(max(engine_timing.best - query_timing.best, 0.0)),
        _fmt(max(engine_timing.best_cpu - query_timing.best_cpu, 0.0)),
        "",
        "",
    )
    timing_row("engine: compute_scores, one date", engine_timing)
    table.add_row(
        "engine / baseline",
        f"{engine_ratio:.2f}×",
        f"{engine_timing.best_cpu / base_timing.best_cpu:.2f}×",
        f"≤ {TARGET_ENGINE_RATIO}×",
        _verdict(engine_ratio <= TARGET_ENGINE_RATIO),
    )
    table.add_row(
        "peak RSS, one-date scoring (child)",
        f"{peak_gib:.2f} GiB",
        "",
        f"< {TARGET_PEAK_GIB:g} GiB",
        _verdict(peak_gib < TARGET_PEAK_GIB),
    )
    table.add_row(
        "peak RSS, baseline query (child)",
        f"{baseline_child.peak_bytes / 2**30:.2f} GiB",
        "",
        "",
        "",
    )
    passed = engine_ratio <= TARGET_ENGINE_RATIO and peak_gib < TARGET_PEAK_GIB
    if backfill is not None:
        one = engine_timing.best
        floor = backfill["floor_weekly_aggregates_seconds"]
        passes = backfill["one_pass"]
        ratio = passes["seconds"] / one
        floor_ratio = passes["seconds"] / floor
        peak_pass = passes["child"]["peak_bytes"] / 2**30
        passes |= {"ratio": ratio, "floor_ratio": floor_ratio}
        table.add_row(
            f"one-pass backfill, {backfill['dates']} weekly dates (batches of {batch_size})",
            _fmt(passes["seconds"]),
            _fmt(passes["cpu_seconds"]),
            "",
            "",
        )
        table.add_row(
            "  of which the query and reading back / scoring",
            f"{_fmt(passes['query_seconds'])} / {_fmt(passes['scoring_seconds'])}",
            "",
            "",
            "",
        )
        table.add_row(
            "floor: weekly aggregates (backfill_floor.py)",
            f"{_fmt(floor)} = {floor / one:.1f}× one date",
            _fmt(backfill["floor_cpu_seconds"]),
            "",
            "",
        )
        table.add_row(
            "one-pass backfill / floor",
            f"{floor_ratio:.2f}×",
            f"{passes['cpu_seconds'] / backfill['floor_cpu_seconds']:.2f}×",
            f"≤ {TARGET_FLOOR_RATIO:g}×",
            _verdict(floor_ratio <= TARGET_FLOOR_RATIO),
        )
        table.add_row(
            "one-pass backfill / one date",
            f"{ratio:.1f}×",
            f"{passes['cpu_seconds'] / engine_timing.best_cpu:.1f}×",
            f"≤ {TARGET_BACKFILL_RATIO:g}×",
            _verdict(ratio <= TARGET_BACKFILL_RATIO),
        )
        table.add_row(
            "peak RSS, one-pass backfill (child, or bound)",
            f"{peak_pass:.2f} GiB",
            "",
            f"< {TARGET_PEAK_GIB:g} GiB",
            _verdict(peak_pass < TARGET_PEAK_GIB),
        )
        passed = passed and ratio <= TARGET_BACKFILL_RATIO and floor_ratio <= TARGET_FLOOR_RATIO
        passed = passed and peak_pass < TARGET_PEAK_GIB
        if "seconds" in backfill:
            joined = backfill["seconds"]
            backfill["ratio"] = joined / one
            table.add_row(
                "date-join backfill (before the one pass)",
                f"{_fmt(joined)} = {joined / one:.1f}× one date = {joined / floor:.1f}× floor",
                _fmt(backfill["cpu_seconds"]),
                "",
                "",
            )
        if batch_child is not None:
            table.add_row(
                f"one {batch_size}-date batch: query / scoring (child)",
                f"{batch_child.detail['query']:.1f} s / {batch_child.detail['scoring']:.1f} s",
                "",
                "",
                "",
            )
            table.add_row(
                f"peak RSS, one {batch_size}-date batch (child)",
                f"{batch_child.peak_bytes / 2**30:.2f} GiB",
                "",
                "",
                "",
            )
        if "with_writes" in backfill:
            writes = backfill["with_writes"]
            detail = writes["detail"]
            table.add_row(
                f"backfill with snapshot writes, {args.dates} dates (child)",
                f"{detail['first_seconds']:.0f} s, {writes['peak_bytes'] / 2**30:.2f} GiB",
                "",
                "",
                "",
            )
            table.add_row(
                "  the same backfill again (replacing every snapshot)",
                f"{detail['again_seconds']:.0f} s",
                "",
                "",
                "",
            )
    table.add_row(
        "1-minute load average (one-date timing)",
        f"{load_before:.1f} → {load_after:.1f}",
        "",
        f"{os.cpu_count()} CPUs",
        "",
    )
    console.print(table)
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    console.print(f"results written to {workdir / 'results.json'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
