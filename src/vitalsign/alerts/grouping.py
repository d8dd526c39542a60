"""Alerts grouped by account, the way a CSM works through them: most severe, then largest ARR.

One account often has several alerts open at once (entered red, dropped fast, champion
left); listed flat it appears once per alert. `vitalsign alerts list` shows one group per
account with its ARR, as the web inbox does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table

from vitalsign.alerts.inbox import Alert

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class AccountAlerts:
    """One account's alerts, with what a CSM weighs first: severity and ARR."""

    account_id: str
    name: str | None
    owner: str | None
    arr: float | None
    alerts: list[Alert]

    @property
    def worst(self) -> str:
        """The most severe severity among the account's alerts."""
        return min((a.severity for a in self.alerts), key=lambda s: SEVERITY_ORDER.get(s, 3))

    def to_dict(self) -> dict[str, Any]:
        """Return the group as JSON-ready data."""
        return {
            "account_id": self.account_id,
            "name": self.name,
            "owner": self.owner,
            "arr": self.arr,
            "worst": self.worst,
            "alerts": [a.to_dict() for a in self.alerts],
        }


def group_by_account(connection: Any, found: list[Alert]) -> list[AccountAlerts]:
    """Group alerts by account (each group keeps its alerts' order): most severe, then ARR.

    >>> group_by_account(ws.duckdb, list_alerts(ws.duckdb).items)[0].arr  # doctest: +SKIP
    250000.0
    """
    ids = sorted({a.account_id for a in found})
    rows = connection.execute(
        "SELECT account_id, name, owner, arr FROM accounts "
        "WHERE account_id IN (SELECT UNNEST(?::VARCHAR[]))",
        [ids],
    ).fetchall()
    accounts = {str(r[0]): r for r in rows}
    by_account: dict[str, list[Alert]] = {}
    for alert in found:
        by_account.setdefault(alert.account_id, []).append(alert)
    groups = []
    for account_id, items in by_account.items():
        row = accounts.get(account_id)
        groups.append(
            AccountAlerts(
                account_id=account_id,
                name=(row[1] if row is not None else None) or items[0].account_name,
                owner=(row[2] if row is not None else None) or items[0].owner,
                arr=None if row is None or row[3] is None else float(row[3]),
                alerts=items,
            )
        )
    return sorted(
        groups, key=lambda g: (SEVERITY_ORDER.get(g.worst, 3), -(g.arr or 0.0), g.account_id)
    )


def format_arr(arr: float | None) -> str:
    """Return ARR as the inbox shows it: $1,234 or — when unknown."""
    return "—" if arr is None else f"${arr:,.0f}"


def alerts_table(groups: list[AccountAlerts], title: str) -> Table:
    """Return the terminal table of `vitalsign alerts list`: one row per account."""
    table = Table(title=title, title_justify="left", show_lines=True)
    for column in ("account", "ARR", "severity"):
        table.add_column(column, justify="right" if column == "ARR" else "left")
    table.add_column("alerts (id, snapshot, rule, status: why)", ratio=1)
    for g in groups:
        lines = [
            f"{a.alert_id} {a.snapshot_date.isoformat()} [{a.severity}] {a.rule}, "
            + a.status
            + ("" if a.useful is None else (" ✓useful" if a.useful else " ✗not useful"))
            + f": {a.summary}; band {a.band}"
            for a in g.alerts
        ]
        table.add_row(
            f"{g.name or ''} ({g.account_id}), {g.owner or 'no owner'}",
            format_arr(g.arr),
            g.worst,
            "\n".join(lines),
        )
    return table
