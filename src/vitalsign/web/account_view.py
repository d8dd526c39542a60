"""Everything the account page shows: score row, history, explanation, overrides, audit trail,
the workspace's custom account fields and the account's attribute changes.

The explanation is built by the engine's one builder, `vitalsign.engine.explain.explain_items`,
from the rows this module already read: `explain_account` first lists every snapshot date (a
scan of the whole history) and cannot use an index, which costs more than the page's whole
time budget at 100,000 accounts. tests/web/test_views.py checks both give the same explanation.

On the latest snapshot the history, the score row and the signal items come from the
`ServingData` in memory (vitalsign.web.serving_cache) when it holds the current version;
on other dates the row is read from DuckDB and `explain_row` reads the items.

The "why" (losses first, group shares, gate and flags, what it would take: engine/why.py) is
built from the same explanation when the model is given. The values a gate or flag reads
beyond the scored signals are computed only when the gate failed or a flag fired (a query of
a few hundred milliseconds, too dear for every page); "what changed since" reads the
earlier snapshot only when one is chosen.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Protocol, TypeVar

from vitalsign.alerts import list_overrides
from vitalsign.engine.condition_values import condition_values, silent_inputs
from vitalsign.engine.explain import Explanation, changed_since, explain_items, explain_row
from vitalsign.engine.why import Why, build_why, flag_clearing, needed_names
from vitalsign.model.canonical import DELETED_AT
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import AccountField
from vitalsign.web.accounts import account_history, plain, score_row
from vitalsign.web.catalog import VERSION_SELECT, Version
from vitalsign.web.charts import Figure, changes_figure, losses_figure
from vitalsign.web.owner_names import NAMED, OWNER_COLUMNS, names_of
from vitalsign.web.serving_cache import ServingData

T = TypeVar("T")


class Memo(Protocol):
    """`CatalogView.memo`: compute once per version of the score history."""

    def __call__(self, key: Hashable, compute: Callable[[], T], /) -> T:
        """Return `compute()` for `key`."""


@dataclass
class AccountView:
    """One account on one snapshot date, with what surrounds it."""

    account_id: str
    as_of: dt.date
    row: dict[str, Any]
    history: list[dict[str, Any]]
    explanation: Explanation
    overrides: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    custom_fields: list[CustomField] = field(default_factory=list)
    changes: list[AttributeChange] = field(default_factory=list)
    why: Why | None = None  # with the model: losses, gate and flags, the next band
    losses_figure: Figure | None = None
    since: dt.date | None = None  # the earlier snapshot compared with, when chosen
    changes_figure: Figure | None = None
    current: dict[str, Any] | None = None  # the account_history version in force now


@dataclass(frozen=True)
class CustomField:
    """One of the workspace's custom account fields (vitalsign.yml `account_fields:`)."""

    name: str
    value: Any  # JSON-ready (see `plain`); None when the source left it empty
    description: str


@dataclass(frozen=True)
class AttributeChange:
    """One attribute of one account that a new version changed, and from when."""

    column: str
    before: Any
    after: Any
    valid_from: str  # ISO timestamp: when the new value came in force

    def to_dict(self) -> dict[str, Any]:
        """Return the change as JSON-ready data."""
        return {
            "column": self.column,
            "before": self.before,
            "after": self.after,
            "valid_from": self.valid_from,
        }


# account_history columns that say when and how a version was recorded, not what it holds.
VERSION_COLUMNS = frozenset(
    {"valid_from", "valid_to", "recorded_at", "run_id", "updated_at", DELETED_AT}
)


def account_fields(
    connection: Any, fields: Sequence[AccountField], account_id: str
) -> list[CustomField]:
    """Return the account's custom fields in the order vitalsign.yml declares them."""
    if not fields:
        return []
    names = ", ".join(f'"{f.name}"' for f in fields)
    row = connection.execute(
        f"SELECT {names} FROM accounts WHERE account_id = ?", [account_id]
    ).fetchone()
    values = row if row is not None else (None,) * len(fields)
    return [
        CustomField(f.name, plain(v), f.description) for f, v in zip(fields, values, strict=True)
    ]


def _version_order(version: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Sort key of `ORDER BY valid_from NULLS FIRST, recorded_at` (NULLs first in both)."""
    valid_from, recorded_at = version["valid_from"], version["recorded_at"]
    return (
        () if valid_from is None else (valid_from,),
        () if recorded_at is None else (recorded_at,),
    )


def _versions(connection: Any, account_id: str) -> list[dict[str, Any]]:
    """Return the account's versions in account_history, oldest first.

    Sorted here: an account has a handful of versions, and DuckDB's sort costs about 1 ms a
    page (docs/benchmarks.md, "Web").
    """
    cursor = connection.execute("SELECT * FROM account_history WHERE account_id = ?", [account_id])
    names = [str(d[0]) for d in cursor.description]
    versions = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return sorted(versions, key=_version_order)


def current_version(versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the version in force now (no `valid_to`), None for an account never recorded."""
    return next((v for v in reversed(versions) if v["valid_to"] is None), None)


def _changes(versions: list[dict[str, Any]], limit: int) -> list[AttributeChange]:
    if len(versions) < 2:
        return []
    compared = [n for n in versions[0] if n not in VERSION_COLUMNS and n != "account_id"]
    changes: list[AttributeChange] = []
    for before, after in reversed(list(pairwise(versions))):
        since = plain(after["valid_from"] or after["recorded_at"])
        changes += [
            AttributeChange(n, plain(before[n]), plain(after[n]), since)
            for n in compared
            if plain(before[n]) != plain(after[n])
        ]
    return changes[:limit]


def attribute_changes(connection: Any, account_id: str, limit: int = 20) -> list[AttributeChange]:
    """Return the attributes each version of the account changed (account_history), newest first.

    The first version changes nothing (it is the account as first loaded); a deletion by a
    snapshot source and the source's `updated_at` are not attribute changes.
    """
    return _changes(_versions(connection, account_id), limit)


def account_attributes(
    connection: Any, fields: Sequence[AccountField], account_id: str, limit: int = 20
) -> tuple[list[CustomField], list[AttributeChange]]:
    """Return the account's custom fields and attribute changes, reading its versions once.

    The current version holds the fields' values (every ingest reconciles the history with
    `accounts`); an account never recorded in the history is read from `accounts`.
    """
    return _attributes(connection, fields, account_id, _versions(connection, account_id), limit)


def _attributes(
    connection: Any,
    fields: Sequence[AccountField],
    account_id: str,
    versions: list[dict[str, Any]],
    limit: int = 20,
) -> tuple[list[CustomField], list[AttributeChange]]:
    current = current_version(versions)
    if current is None:
        return account_fields(connection, fields, account_id), _changes(versions, limit)
    found = [CustomField(f.name, plain(current.get(f.name)), f.description) for f in fields]
    return found, _changes(versions, limit)


def _explained(
    connection: Any,
    model_name: str,
    account_id: str,
    day: dt.date,
    serving: ServingData | None,
) -> tuple[dict[str, Any], Explanation]:
    """Return the score row and explanation of one account on `day`, from memory if held."""
    if serving is not None and day == serving.latest:
        row = serving.latest_row(account_id)
        if row is not None:
            items = serving.latest_item_rows(account_id)
            return row, explain_items(model_name, {**row, "account_id": account_id}, items)
    row = score_row(connection, model_name, account_id, day)
    return row, explain_row(connection, model_name, {**row, "account_id": account_id})


_NO_OWNER = "NULL, NULL, NULL"
ACTIVITY_SQL = f"""
    {VERSION_SELECT.replace("SELECT", "SELECT 'version',").replace(" FROM", f", {_NO_OWNER} FROM")}
    UNION ALL
    SELECT 'overrides', count(*), 0, {_NO_OWNER} FROM overrides WHERE account_id = $1
    UNION ALL
    SELECT 'alerts', count(*), count(*) FILTER (WHERE status IN ('open', 'acknowledged')),
    {_NO_OWNER} FROM alerts WHERE account_id = $1
    UNION ALL
    SELECT 'tasks', count(*), count(*) FILTER (WHERE status IN ('open', 'in_progress')),
    {_NO_OWNER} FROM tasks WHERE account_id = $1
    UNION ALL
    SELECT 'audit', count(*), 0, {_NO_OWNER} FROM audit_log WHERE subject = $1
    UNION ALL
    SELECT 'owner', NULL, NULL, {OWNER_COLUMNS} FROM owners WHERE {NAMED}"""


@dataclass(frozen=True)
class Activity:
    """How many overrides, alerts, tasks and audit entries concern an account (one query)."""

    overrides: int = 0
    alerts: int = 0
    active_alerts: int = 0
    tasks: int = 0
    active_tasks: int = 0
    audited: int = 0  # audit entries whose subject is the account itself
    version: Version = ()  # of the score history, read in the same query
    owner_names: dict[str, str] = field(default_factory=dict)  # as web/owner_names.py gives

    @property
    def has_audit(self) -> bool:
        """Whether `account_audit` can find anything (about the account, its alerts or tasks)."""
        return bool(self.audited or self.alerts or self.tasks)


def account_activity(connection: Any, account_id: str) -> Activity:
    """Count what surrounds an account, so that most pages skip the empty lists' queries.

    The same query reads the history's version and the owners' names (each branch of a
    `UNION ALL` costs a fraction of a query of its own: docs/benchmarks.md, "Web").
    """
    rows = connection.execute(ACTIVITY_SQL, [account_id]).fetchall()
    counts = {r[0]: (r[1], r[2]) for r in rows if r[0] != "owner"}
    return Activity(
        owner_names=names_of(r[3:] for r in rows if r[0] == "owner"),
        overrides=counts["overrides"][0],
        alerts=counts["alerts"][0],
        active_alerts=counts["alerts"][1],
        tasks=counts["tasks"][0],
        active_tasks=counts["tasks"][1],
        audited=counts["audit"][0],
        version=counts["version"],
    )


def account_audit(connection: Any, account_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Return the audit entries about the account, its alerts and its tasks, newest first."""
    subjects = (
        "subject = ? OR subject IN (SELECT alert_id FROM alerts WHERE account_id = ?)"
        " OR subject IN (SELECT task_id FROM tasks WHERE account_id = ?)"
    )
    params: list[Any] = [account_id, account_id, account_id]
    rows = connection.execute(
        f"SELECT logged_at, actor, action, subject, detail FROM audit_log WHERE {subjects} "
        "ORDER BY logged_at DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        {
            "logged_at": plain(r[0]),
            "actor": r[1],
            "action": r[2],
            "subject": r[3],
            "detail": json.loads(r[4]) if r[4] else {},
        }
        for r in rows
    ]


def account_overrides(connection: Any, account_id: str) -> list[dict[str, Any]]:
    """Return the account's overrides, newest first, with their state."""
    any_row = connection.execute(
        "SELECT 1 FROM overrides WHERE account_id = ? LIMIT 1", [account_id]
    ).fetchone()
    if any_row is None:  # most accounts: skip building an empty frame
        return []
    frame = list_overrides(connection, account_id, include_inactive=True)
    return [{str(k): plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def account_view(
    connection: Any,
    model_name: str,
    account_id: str,
    as_of: dt.date | None = None,
    serving: ServingData | None = None,
    activity: Activity | None = None,
    fields: Sequence[AccountField] = (),
    model: LoadedModel | None = None,
    since: dt.date | None = None,
    memo: Memo | None = None,
) -> AccountView:
    """Gather the account page of `account_id` on `as_of` (default: its latest snapshot).

    With `model`, the why (engine/why.py); with `since` too, what changed since that snapshot.
    With `memo` (a `CatalogView.memo`: per version of the score history), what is the same
    for every account of a snapshot is computed once per version.
    """
    activity = activity or account_activity(connection, account_id)
    cached = None if serving is None else serving.history(account_id)
    history = cached or account_history(connection, model_name, account_id)
    day = as_of or history[-1]["snapshot_date"]
    row, explanation = _explained(connection, model_name, account_id, day, serving)
    versions = _versions(connection, account_id)
    custom, changes = _attributes(connection, fields, account_id, versions)
    why = None
    if model is not None:
        if since is not None and since < explanation.as_of:
            explanation = changed_since(connection, explanation, since)
        why = why_of(connection, model, explanation, memo)
    return AccountView(
        account_id=account_id,
        as_of=explanation.as_of,
        row={k: plain(v) for k, v in row.items()},
        history=history,
        explanation=explanation,
        overrides=account_overrides(connection, account_id) if activity.overrides else [],
        audit=account_audit(connection, account_id) if activity.has_audit else [],
        custom_fields=custom,
        changes=changes,
        why=why,
        losses_figure=None if why is None else losses_figure(why),
        since=explanation.since,
        changes_figure=None if explanation.since is None else changes_figure(explanation),
        current=current_version(versions),
    )


def _computed(key: Hashable, compute: Callable[[], T]) -> T:
    return compute()


def why_of(
    connection: Any, model: LoadedModel, explanation: Explanation, memo: Memo | None = None
) -> Why:
    """Build the why of the page's explanation; compute condition values only when needed.

    The gate's silent inputs are the snapshot's (`score_freshness`, written with it): with
    `memo` they are read once per version of the score history and model.
    """
    extra: dict[str, Any] = {}
    if not explanation.gate_pass or explanation.flags:
        names = needed_names(model.spec, explanation)
        extra = condition_values(
            connection, model.spec, explanation.as_of, explanation.account_id, names
        )
    silent = (memo or _computed)(  # a gate not evaluated
        ("silent_inputs", explanation.model_name, model.hash, explanation.as_of),
        lambda: silent_inputs(connection, explanation.model_name, model.spec, explanation.as_of),
    )
    clears = flag_clearing(connection, model.spec, explanation)
    return build_why(explanation, model.spec, extra, model.hash, silent, clears)
