"""The first evaluation of a rule on a workspace records a baseline and alerts nobody.

A rule switched on for the first time finds every account for which its condition already
holds (one trial opened 291 alerts on a first run of 200 accounts). Those are not news: the
first evaluation records them in `alert_baselines` and opens nothing. An account stays in
the baseline while the condition keeps holding; once it clears, the account leaves it and a
later return of the condition alerts as usual. `baseline: false` in alerts.yml turns this off.

A workspace that evaluated alerts before baselines existed (runs recorded, no rule seen) has
its rules marked as seen without a baseline, so upgrading silences nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Baseline:
    """Which rules are new on this evaluation and which (rule, account) pairs are known."""

    new_rules: frozenset[str]
    known: frozenset[tuple[str, str]]

    def silences(self, rule: str, account_id: str) -> bool:
        """Say whether a new alert of `rule` for the account is held back by the baseline."""
        return rule in self.new_rules or (rule, account_id) in self.known


def read_baseline(
    connection: Any, model_name: str, rules: Iterable[str], day: dt.date, enabled: bool
) -> Baseline:
    """Return the rules evaluated for the first time on `day` and the pairs in the baseline."""
    seen = {
        str(r[0])
        for r in connection.execute(
            "SELECT rule FROM alert_rules_seen WHERE model_name = ?", [model_name]
        ).fetchall()
    }
    upgraded = (
        not seen
        and connection.execute(
            "SELECT count(*) FROM alert_runs WHERE model_name = ? AND snapshot_date < ?",
            [model_name, day],
        ).fetchone()[0]
    )
    new = frozenset() if not enabled or upgraded else frozenset(set(rules) - seen)
    known = connection.execute(
        "SELECT rule, account_id FROM alert_baselines WHERE model_name = ?", [model_name]
    ).fetchall()
    return Baseline(new_rules=new, known=frozenset((str(r), str(a)) for r, a in known))


def write_baseline(
    connection: Any,
    model_name: str,
    day: dt.date,
    rules: Iterable[str],
    baseline: Baseline,
    holding: pd.DataFrame,
) -> int:
    """Record the new rules' holding accounts and drop known pairs that cleared (in a
    transaction of the caller); return how many pairs the new rules put in the baseline."""
    pairs = set(zip(holding["rule"].astype(str), holding["account_id"].astype(str), strict=True))
    cleared = [p for p in baseline.known if p not in pairs]
    if cleared:
        frame = pd.DataFrame(cleared, columns=["rule", "account_id"])
        connection.register("_cleared", frame)
        connection.execute(
            "DELETE FROM alert_baselines b WHERE model_name = ? AND EXISTS (SELECT 1 FROM "
            "_cleared c WHERE c.rule = b.rule AND c.account_id = b.account_id)",
            [model_name],
        )
        connection.unregister("_cleared")
    fresh = sorted(p for p in pairs if p[0] in baseline.new_rules)
    if fresh:
        frame = pd.DataFrame(fresh, columns=["rule", "account_id"]).assign(
            model_name=model_name, snapshot_date=day
        )
        connection.register("_fresh", frame)
        connection.execute(
            "INSERT OR IGNORE INTO alert_baselines (model_name, rule, account_id, snapshot_date) "
            "SELECT model_name, rule, account_id, snapshot_date FROM _fresh"
        )
        connection.unregister("_fresh")
    for rule in rules:
        connection.execute(
            "INSERT OR IGNORE INTO alert_rules_seen (model_name, rule, first_date) "
            "VALUES (?, ?, ?)",
            [model_name, rule, day],
        )
    return len(fresh)
