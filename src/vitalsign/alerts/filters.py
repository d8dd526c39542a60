"""The WHERE clause shared by the alert and task listings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def where_clause(
    equals: dict[str, Any],
    account_ids: Iterable[str] | None,
    status: str | None,
    active: tuple[str, ...],
) -> tuple[str, list[Any]]:
    """Return `(clause, params)`: columns equal to the given values, accounts, status.

    `status="active"` means any of `active`; None filters nothing.
    """
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    for column, value in equals.items():
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if account_ids is not None:
        where.append("account_id IN (SELECT UNNEST(?::VARCHAR[]))")
        params.append(list(account_ids))
    if status == "active":
        where.append("status IN (" + ", ".join("?" for _ in active) + ")")
        params.extend(active)
    elif status is not None:
        where.append("status = ?")
        params.append(status)
    return " AND ".join(where), params
