"""What every alert rule's SQL shares: the population, the context, stale data, parameters.

The rules (alerts/rules.py for the score and band rules, alerts/input_rules.py for the rules
over signals, flags, the gate and the canonical tables) select from `pop`, the scores of the
model on the day within the rule's segments and minimum ARR, and hold back changes that
stale or lost data caused (docs/alerts.md).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vitalsign.model.spec import HealthModel

_PARAM = re.compile(r"\$([a-z_]+)")
POPULATION = """
    pop AS (
        SELECT * FROM scores
        WHERE model_name = $model AND snapshot_date = $day
          AND (len($segments::VARCHAR[]) = 0 OR segment IN (SELECT UNNEST($segments::VARCHAR[])))
          AND ($min_arr::DOUBLE IS NULL OR coalesce(arr, 0) >= $min_arr::DOUBLE)
    )"""


@dataclass(frozen=True)
class RuleContext:
    """What every rule evaluation needs: the model, the date, the previous snapshot.

    The band rules do not compare with `previous` but with BAND_REFERENCE.
    """

    model: HealthModel
    day: dt.date
    previous: dt.date | None

    @property
    def start(self) -> dt.datetime:
        """Midnight at the start of the day: rows before it are visible on that day."""
        return dt.datetime(self.day.year, self.day.month, self.day.day)


STALE_DAY = """
    EXISTS (SELECT 1 FROM score_freshness
            WHERE model_name = $model AND snapshot_date = $day AND stale)"""
STALE_DATES = """
    stale_dates AS (
        SELECT DISTINCT snapshot_date FROM score_freshness WHERE model_name = $model AND stale
    )"""


def data_lost(compared: str) -> str:
    """SQL selecting the accounts of `compared` (account_id, reference DATE) that lost data.

    An account lost data when its coverage on $day is below the reference snapshot's, or a
    signal that had a value then has none now.
    """
    return f"""
        SELECT c.account_id FROM ({compared}) c
        JOIN scores n ON n.model_name = $model AND n.snapshot_date = $day
             AND n.account_id = c.account_id
        JOIN scores o ON o.model_name = $model AND o.snapshot_date = c.reference
             AND o.account_id = c.account_id
        WHERE n.coverage < o.coverage - 1e-9
        UNION
        SELECT c.account_id FROM ({compared}) c
        JOIN score_items o ON o.model_name = $model AND o.snapshot_date = c.reference
             AND o.account_id = c.account_id AND o.kind = 'signal'
        JOIN score_items n ON n.model_name = $model AND n.snapshot_date = $day
             AND n.account_id = c.account_id AND n.kind = 'signal' AND n.name = o.name
        WHERE (o.raw_value IS NOT NULL OR o.raw_text IS NOT NULL)
          AND n.raw_value IS NULL AND n.raw_text IS NULL"""


def query(connection: Any, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    """Run a rule's SQL with the parameters it names (DuckDB refuses unused ones)."""
    used = set(_PARAM.findall(sql))
    frame: pd.DataFrame = connection.execute(
        sql, {k: v for k, v in params.items() if k in used}
    ).df()
    return frame


def rule_params(rule: Any, ctx: RuleContext, **extra: Any) -> dict[str, Any]:
    """The parameters every rule's SQL may use: model, day, segments, minimum ARR..."""
    return {
        "model": ctx.model.name,
        "day": ctx.day,
        "t": ctx.start,
        "previous": ctx.previous,
        "segments": list(rule.segments),
        "min_arr": rule.min_arr,
        **extra,
    }
