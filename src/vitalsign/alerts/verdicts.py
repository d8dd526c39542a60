"""What every rule says about a snapshot: what holds, what keeps an alert open, what may open.

One pass over the rules of alerts.yml for one snapshot date, before anything is written:

- `holding`: the accounts for which an alert rule's condition holds today (with `fired` and
  `held_back`), as rules.py evaluates it;
- `keeping`: the accounts for which an open alert stays open (the condition loosened by the
  rule's hysteresis margin, steadiness.py);
- `candidates`: the accounts for which a new alert may open (fired, and held on enough
  consecutive snapshots: persistence);
- `reminding`: the holding rows of reminder rules, which give digest lines, not alerts.

Rule evaluations of earlier snapshots (for persistence) are memoised in a `RuleCache`, so a
replay over a year evaluates each rule about once per snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.alerts.config import AlertConfig
from vitalsign.alerts.reminders import is_reminder
from vitalsign.alerts.rule_sql import RuleContext
from vitalsign.alerts.rules import evaluate_rule
from vitalsign.alerts.steadiness import (
    cadence_days,
    confirmed,
    is_steady,
    keeping,
    margin_of,
    persistence_of,
)
from vitalsign.model.spec import HealthModel

_COLUMNS = ["rule", "account_id", "fired", "values", "held_back"]


@dataclass
class RuleCache:
    """Evaluations of (rule name, snapshot date), reused across the dates of a replay."""

    frames: dict[tuple[str, dt.date], pd.DataFrame] = field(default_factory=dict)

    def evaluate(self, connection: Any, name: str, rule: Any, ctx: RuleContext) -> pd.DataFrame:
        """Return the rule's evaluation on ctx.day, computing it once."""
        key = (name, ctx.day)
        if key not in self.frames:
            self.frames[key] = evaluate_rule(connection, rule, ctx)
        return self.frames[key]


@dataclass(frozen=True)
class Verdicts:
    """The rules' verdicts on one snapshot (see the module docstring)."""

    holding: pd.DataFrame
    keeping: pd.DataFrame
    candidates: pd.DataFrame
    reminding: pd.DataFrame
    waiting: int  # fired today, not yet held on enough snapshots to open an alert


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)


def judge(
    connection: Any,
    config: AlertConfig,
    model: HealthModel,
    day: dt.date,
    dates: Sequence[dt.date],
    cache: RuleCache | None = None,
) -> Verdicts:
    """Evaluate every rule on `day` (`dates`: the model's snapshot dates, oldest first)."""
    cache = cache or RuleCache()
    earlier = [d for d in dates if d < day]
    cadence = cadence_days([*earlier, day])

    def context_for(when: dt.date) -> RuleContext:
        before = [d for d in dates if d < when]
        return RuleContext(model=model, day=when, previous=before[-1] if before else None)

    ctx = context_for(day)
    holding, keeps, candidates, reminding = [], [], [], []
    waiting = 0
    for name, rule in config.rules.items():
        today = cache.evaluate(connection, name, rule, ctx)
        if is_reminder(rule):
            reminding.append(today.assign(rule=name))
            continue
        holding.append(today.assign(rule=name))
        margin = margin_of(rule, config.steady.margin) if is_steady(rule) else 0.0
        keeps.append(keeping(connection, rule, ctx, today, margin).assign(rule=name))
        persistence = persistence_of(rule, cadence, config.steady.persistence)

        def past(when: dt.date, name: str = name, rule: Any = rule) -> pd.DataFrame:
            return cache.evaluate(connection, name, rule, context_for(when))

        chosen = confirmed(rule, today, earlier, persistence, past)
        candidates.append(chosen.assign(rule=name))
        if persistence > 1:
            waiting += int(today["fired"].sum()) - int(
                today["account_id"].isin(chosen["account_id"]).sum()
            )
    return Verdicts(
        holding=_concat(holding, _COLUMNS),
        keeping=_concat(keeps, ["rule", "account_id", "values"]),
        candidates=_concat(candidates, _COLUMNS),
        reminding=_concat(reminding, _COLUMNS),
        waiting=max(0, waiting),
    )
