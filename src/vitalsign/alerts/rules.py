"""Evaluate each rule type over the score history and the canonical tables, in SQL.

A rule's evaluation on snapshot date T returns the accounts for which its condition
*holds* on T, with the values behind it, and whether it *fired* on T. For state rules
(score below, flag raised, ...) the two are the same; for transition rules (band entered
or left) the condition fires on the change and holds while the account stays there, so
an open alert resolves itself when the account moves back.

Changes caused by data, not by the customer, are *held back* (the condition holds, it does
not fire; docs/alerts.md): a score drop or a band change does not fire when the newer
snapshot has a stale table, when the account's coverage fell since the snapshot it is
compared with, or when a signal that had data then is missing now. A drop is measured
against a peak among earlier snapshots without a stale table; a band change against the
account's latest earlier snapshot without a stale table that had at least today's data
(BAND_REFERENCE), so a change held back is measured again once the data is back.
Silence rules (data_stale, csm_rating_stale) fire only while the table received rows from
other accounts: when the whole table went quiet, the source is stale, not the account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from vitalsign.alerts import input_rules
from vitalsign.alerts.config import (
    BandEntered,
    BandLeft,
    ScoreBelow,
    ScoreDropped,
)
from vitalsign.alerts.renewal import renewing
from vitalsign.alerts.rule_sql import (
    POPULATION,
    STALE_DATES,
    STALE_DAY,
    RuleContext,
    data_lost,
    query,
    rule_params,
)
from vitalsign.model.spec import parse_days

# The snapshot each account of `pop` is compared with by band_entered and band_left: the
# latest snapshot before $day without a stale table on which the account had at least the
# data it has on $day (coverage no lower, a value for every signal that has one on $day).
# Snapshots computed from less data (a stale table, the account's coverage fell, a signal
# went missing) are skipped, so a change held back on them is measured again once the data
# is back. Without such a snapshot: the latest snapshot without a stale table.
BAND_REFERENCE = """
    clean AS (
        SELECT DISTINCT snapshot_date FROM scores
        WHERE model_name = $model AND snapshot_date < $day
          AND snapshot_date NOT IN (SELECT snapshot_date FROM stale_dates)
    ),
    short AS (
        SELECT b.account_id, b.snapshot_date FROM score_items n
        JOIN score_items b ON b.model_name = $model AND b.account_id = n.account_id
             AND b.kind = 'signal' AND b.name = n.name AND b.snapshot_date < $day
        WHERE n.model_name = $model AND n.snapshot_date = $day AND n.kind = 'signal'
          AND (n.raw_value IS NOT NULL OR n.raw_text IS NOT NULL)
          AND b.raw_value IS NULL AND b.raw_text IS NULL
    ),
    complete AS (
        SELECT o.account_id, max(o.snapshot_date) AS reference
        FROM pop p JOIN scores o ON o.model_name = $model AND o.account_id = p.account_id
             AND o.snapshot_date IN (SELECT snapshot_date FROM clean)
             AND o.coverage >= p.coverage - 1e-9
        WHERE (o.account_id, o.snapshot_date) NOT IN (SELECT * FROM short)
        GROUP BY o.account_id
    ),
    ref AS (
        SELECT p.account_id,
               coalesce(c.reference, (SELECT max(snapshot_date) FROM clean)) AS reference
        FROM pop p LEFT JOIN complete c USING (account_id)
    )"""


def _band_rule(connection: Any, rule: BandEntered | BandLeft, ctx: RuleContext) -> pd.DataFrame:
    column = "computed_band" if rule.computed else "band"
    entered = isinstance(rule, BandEntered)
    inside = f"p.{column} IN (SELECT UNNEST($bands::VARCHAR[]))"
    before_inside = f"q.{column} IN (SELECT UNNEST($bands::VARCHAR[]))"
    holds = inside if entered else f"NOT ({inside})"
    fired = (
        f"q.{column} IS NULL OR NOT ({before_inside})"
        if entered
        else f"q.{column} IS NOT NULL AND {before_inside}"
    )
    sql = f"""
        WITH {POPULATION}, {STALE_DATES}, {BAND_REFERENCE},
        changed AS (
            SELECT p.account_id, ({fired}) AS changed, p.{column} AS band_now,
                   q.{column} AS band_before, r.reference AS previous_snapshot
            FROM pop p JOIN ref r USING (account_id)
            LEFT JOIN scores q ON q.model_name = $model AND q.snapshot_date = r.reference
                 AND q.account_id = p.account_id
            WHERE {holds}
        ),
        held AS ({data_lost("SELECT account_id, previous_snapshot AS reference FROM changed")})
        SELECT c.*, c.changed AND ({STALE_DAY} OR c.account_id IN (SELECT * FROM held))
                   AS held_back
        FROM changed c"""
    frame = query(connection, sql, rule_params(rule, ctx, bands=list(rule.bands)))
    frame["fired"] = frame.pop("changed").astype(bool) & ~frame["held_back"].astype(bool)
    return frame


def _score_below(connection: Any, rule: ScoreBelow, ctx: RuleContext) -> pd.DataFrame:
    sql = f"""
        WITH {POPULATION}
        SELECT account_id, TRUE AS fired, score, $value::DOUBLE AS threshold
        FROM pop WHERE score < $value::DOUBLE"""
    return query(connection, sql, rule_params(rule, ctx, value=rule.value))


# score_dropped with `smooth` N > 1 reads the mean of each account's last N snapshots (those
# without a stale table, and $day itself) instead of its score: `level` replaces `scores`.
# History is read back 31 days per snapshot averaged, enough for monthly snapshots.
SMOOTHED = """
    level AS (
        SELECT account_id, snapshot_date,
               avg(score) OVER (PARTITION BY account_id ORDER BY snapshot_date
                                ROWS BETWEEN $back::INTEGER PRECEDING AND CURRENT ROW) AS score
        FROM scores
        WHERE model_name = $model AND snapshot_date <= $day AND score IS NOT NULL
          AND snapshot_date >= $day - to_days($within::INTEGER + 31 * $back::INTEGER)
          AND (snapshot_date = $day OR snapshot_date NOT IN (SELECT * FROM stale_dates))
    ),
    pop_level AS (
        SELECT p.* REPLACE (l.score AS score) FROM pop p
        JOIN level l ON l.account_id = p.account_id AND l.snapshot_date = $day
    )"""


def _score_dropped(connection: Any, rule: ScoreDropped, ctx: RuleContext) -> pd.DataFrame:
    smoothed = rule.smooth > 1
    history = "level" if smoothed else "scores"
    current = "pop_level" if smoothed else "pop"
    extra = ", $smooth::INTEGER AS smoothed_over" if smoothed else ""
    sql = f"""
        WITH {POPULATION}, {STALE_DATES}{"," + SMOOTHED if smoothed else ""},
        peaks AS (
            SELECT account_id, max(score) AS peak, arg_max(snapshot_date, score) AS peak_date
            FROM {history}
            WHERE {"TRUE" if smoothed else "model_name = $model"} AND snapshot_date < $day
              AND snapshot_date >= $day - to_days($within::INTEGER) AND score IS NOT NULL
              AND snapshot_date NOT IN (SELECT snapshot_date FROM stale_dates)
            GROUP BY account_id
        ),
        dropped AS (
            SELECT p.account_id, k.peak, k.peak_date, p.score,
                   k.peak - p.score AS dropped, $within::INTEGER AS within_days{extra}
            FROM {current} p JOIN peaks k USING (account_id)
            WHERE p.score <= k.peak - $points::DOUBLE
        ),
        held AS ({data_lost("SELECT account_id, peak_date AS reference FROM dropped")})
        SELECT d.*, {STALE_DAY} OR d.account_id IN (SELECT * FROM held) AS held_back
        FROM dropped d"""
    within = parse_days(rule.within)
    params = rule_params(
        rule, ctx, within=within, points=rule.points, back=rule.smooth - 1, smooth=rule.smooth
    )
    frame = query(connection, sql, params)
    frame["fired"] = ~frame["held_back"].astype(bool)
    return frame


EVALUATORS: dict[str, Callable[[Any, Any, RuleContext], pd.DataFrame]] = {
    "band_entered": _band_rule,
    "band_left": _band_rule,
    "score_below": _score_below,
    "score_dropped": _score_dropped,
    "signal_threshold": input_rules.signal_threshold,
    "signal_change": input_rules.signal_change,
    "flag_raised": input_rules.flag_raised,
    "gate_failed": input_rules.gate_failed,
    "commercial_disagreement": input_rules.commercial_disagreement,
    "data_stale": input_rules.data_stale,
    "csm_rating_stale": input_rules.csm_rating_stale,
    "expansion_candidate": input_rules.expansion_candidate,
}


def evaluate_rule(connection: Any, rule: Any, ctx: RuleContext) -> pd.DataFrame:
    """Return the accounts for which `rule` holds on ctx.day: account_id, fired, values.

    `held_back` is true where a change held (it did not fire) because data went stale or
    missing.
    """
    frame = EVALUATORS[rule.type](connection, rule, ctx)
    if rule.renewal_within is not None:
        frame = renewing(connection, frame, ctx.day, parse_days(rule.renewal_within))
    held = frame["held_back"] if "held_back" in frame else pd.Series(False, index=frame.index)
    value_columns = [c for c in frame.columns if c not in ("account_id", "fired", "held_back")]
    records = frame[value_columns].to_dict("records") if len(frame) else []
    return pd.DataFrame(
        {
            "account_id": frame["account_id"].astype(str),
            "fired": frame["fired"].astype(bool),
            "values": records,
            "held_back": held.astype(bool),
        }
    )
