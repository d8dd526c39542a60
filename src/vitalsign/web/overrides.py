"""Override an account's band or a manual signal from the web, checked against the model;
the account's latest snapshot is re-scored at once (vitalsign.engine.rescore)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from vitalsign.engine.rescore import Rescored, record_override, revoke_and_rescore
from vitalsign.errors import SnapshotError, VitalsignError
from vitalsign.model.loader import LoadedModel
from vitalsign.model.spec import CategoricalScale, HealthModel
from vitalsign.web.access import Principal, require_account, require_change


def override_choices(model: HealthModel) -> dict[str, list[str]]:
    """Return what may be overridden: "band" and each manual signal, with allowed values.

    An empty list means any value (a signal without a categorical scale).
    """
    choices: dict[str, list[str]] = {}
    if model.overrides.band:
        choices["band"] = list(model.band_names)
    for name in model.overrides.signals:
        scale = model.signals[name].scale if name in model.signals else None
        choices[name] = list(scale.map) if isinstance(scale, CategoricalScale) else []
    return choices


def require_known_account(connection: Any, account_id: str) -> None:
    """Raise SnapshotError when the account is neither in `accounts` nor scored."""
    known = (
        connection.execute("SELECT 1 FROM accounts WHERE account_id = ?", [account_id]).fetchone()
        or connection.execute(
            "SELECT 1 FROM scores WHERE account_id = ? LIMIT 1", [account_id]
        ).fetchone()
    )
    if not known:
        raise SnapshotError(f"unknown account {account_id!r}")


def create_override(
    connection: Any,
    principal: Principal,
    model: LoadedModel,
    account_id: str,
    target: str,
    value: str,
    reason: str,
    expires_on: dt.date | None,
) -> tuple[str, Rescored | None]:
    """Record an override by the user (audited) and re-score the account's latest snapshot."""
    require_account(connection, principal, account_id)
    require_change(principal)
    require_known_account(connection, account_id)
    choices = override_choices(model.spec)
    if target not in choices:
        allowed = ", ".join(choices) or "nothing (the model allows no overrides)"
        raise VitalsignError(f"target {target!r}: this model lets you override {allowed}")
    value = value.strip()
    what = "a band" if target == "band" else f"a value for {target}"
    if not value:
        raise VitalsignError(f"choose {what}: {', '.join(choices[target]) or 'any value'}")
    if choices[target] and value not in choices[target]:
        raise VitalsignError(
            f"value {value!r} for {target}: choose one of {', '.join(choices[target])}"
        )
    if expires_on is not None and expires_on <= dt.datetime.now(dt.UTC).date():
        raise VitalsignError(f"expiry {expires_on} is not in the future; pick a later date")
    expires = dt.datetime.combine(expires_on, dt.time()) if expires_on else None
    return record_override(
        _backend(connection), model, account_id, target, value, reason, principal.name, expires
    )


def end_override(
    connection: Any,
    principal: Principal,
    model: LoadedModel,
    account_id: str,
    override_id: str,
    reason: str,
) -> Rescored | None:
    """Revoke one of the account's overrides (audited) and re-score its latest snapshot."""
    require_account(connection, principal, account_id)
    require_change(principal)
    row = connection.execute(
        "SELECT account_id FROM overrides WHERE override_id = ?", [override_id]
    ).fetchone()
    if row is None or row[0] != account_id:
        raise SnapshotError(f"no override {override_id!r} on account {account_id!r}")
    return revoke_and_rescore(_backend(connection), model, override_id, principal.name, reason)


def rescored_body(rescored: Rescored | None) -> dict[str, Any] | None:
    """Return the re-scored row for the API (None when nothing was re-scored)."""
    if rescored is None:
        return None
    return {
        "snapshot_date": rescored.snapshot_date.isoformat(),
        "band": rescored.band,
        "computed_band": rescored.computed_band,
        "score": rescored.score,
    }


def _backend(connection: Any) -> Any:
    """An Ibis backend on the request's own cursor (a re-score reads the canonical tables)."""
    return ibis.duckdb.from_connection(connection)
