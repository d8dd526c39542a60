"""The values a gate or flag reads for one account on one date, and the gate's missing inputs.

The why (why.py) shows each condition with the values it read; those that are not scored
signals (invoices_90d, days_to_renewal) are computed here for the one account, from SQL
compiled once per model, date and names. `silent_inputs` tells which of the gate's inputs
were missing on the date (an empty or stale table): freshness.py then did not evaluate it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import ibis

from vitalsign.engine.conditions import condition_names
from vitalsign.engine.signals import signal_column, signal_table
from vitalsign.model.spec import HealthModel
from vitalsign.store.freshness import snapshot_freshness


def condition_values(
    connection: Any, model: HealthModel, day: dt.date, account_id: str, names: set[str]
) -> dict[str, Any]:
    """Compute the named signals (and account columns) for one account on one date.

    Only the named signals and their inputs are built, and the account is filtered before
    the query runs. The SQL is compiled once per model, date and names (a few hundred
    milliseconds); the query then takes tens of milliseconds, so the account page asks only
    when a gate failed or a flag fired.
    """
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name in model.signals and name not in wanted:
            wanted.add(name)
            for used in model.signals[name].inputs:
                add(used)

    for name in names:
        add(name)
    if not names:
        return {}
    sql = _values_sql(connection, model, day, frozenset(wanted))
    frame = connection.execute(sql, {"account": account_id}).df()
    if frame.empty:
        return {}
    row = frame.iloc[0]
    values: dict[str, Any] = {}
    for name in sorted(names):
        column = signal_column(name) if name in model.signals else name
        if column in frame.columns:
            value = row[column]
            values[name] = None if value is None or value != value else _plain(value)
    return values


SENTINEL = "vitalsign-why-account-0f3c"  # the account id in the compiled SQL, then a parameter
_COMPILED: dict[tuple[int, dt.date, frozenset[str]], tuple[HealthModel, str]] = {}
MAX_COMPILED = 64


def _values_sql(connection: Any, model: HealthModel, day: dt.date, wanted: frozenset[str]) -> str:
    """Return the SQL of the wanted signals for one account (`$account`) on `day`, compiled once.

    Building and compiling the Ibis expression costs several times the query, so the SQL is
    kept per model object, date and set of signals (the model is kept with it, so its id is
    not reused while the entry lives).
    """
    key = (id(model), day, wanted)
    cached = _COMPILED.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    reduced = model.model_copy(
        update={
            "signals": {k: v for k, v in model.signals.items() if k in wanted},
            "gate": None,  # their truth is stored; only the values they read are wanted
            "flags": {},
        }
    )
    backend = ibis.duckdb.from_connection(connection)
    table = signal_table(backend, reduced, [day])
    sql = str(ibis.to_sql(table.filter(table.account_id == SENTINEL), dialect="duckdb"))
    quoted = f"'{SENTINEL}'"
    if sql.count(quoted) != 1:  # pragma: no cover - a compiler that inlines it elsewhere
        raise RuntimeError(f"the account filter was not compiled once: {sql.count(quoted)}")
    sql = sql.replace(quoted, "$account")
    if len(_COMPILED) >= MAX_COMPILED:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[key] = (model, sql)
    return sql


def silent_inputs(
    connection: Any, model_name: str, model: HealthModel, day: dt.date
) -> dict[str, str]:
    """Return the gate's input signals that were missing on `day` (stale or empty table), why.

    Read from the freshness the snapshot recorded when it was scored (`score_freshness`):
    the engine did not evaluate the gate then, so its stored pass is no verdict. No table is
    scanned, and the answer is the scoring run's, whichever engine held the data.
    """
    if model.gate is None:
        return {}
    reads = condition_names(model.gate.when)
    silent: dict[str, str] = {}
    for seen in snapshot_freshness(connection, model_name, [day]):
        if seen.silent and reads & set(seen.signals):
            reason = "no data" if seen.absent else f"{seen.table} is stale: {seen.line()}"
            silent.update({n: reason for n in seen.signals if n in reads})
    return silent


def not_evaluated(when: str, silent: Mapping[str, str]) -> str | None:
    """Say which inputs of a condition are missing, None when it was evaluated."""
    names = sorted(condition_names(when) & set(silent))
    return ", ".join(f"{n} is missing ({silent[n]})" for n in names) or None


def _plain(value: Any) -> Any:
    """Return a NumPy or pandas scalar as a Python one."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
