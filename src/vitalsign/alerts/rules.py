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

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vitalsign.alerts.config import (
    BandEntered,
    BandLeft,
    CommercialDisagreement,
    CsmRatingStale,
    DataStale,
    ExpansionCandidate,
    FlagRaised,
    GateFailed,
    ScoreBelow,
    ScoreDropped,
    SignalChange,
    SignalThreshold,
)
from vitalsign.alerts.renewal import renewing
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.spec import HealthModel, parse_days

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


def _query(connection: Any, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    used = set(_PARAM.findall(sql))
    frame: pd.DataFrame = connection.execute(
        sql, {k: v for k, v in params.items() if k in used}
    ).df()
    return frame


def _params(rule: Any, ctx: RuleContext, **extra: Any) -> dict[str, Any]:
    return {
        "model": ctx.model.name,
        "day": ctx.day,
        "t": ctx.start,
        "previous": ctx.previous,
        "segments": list(rule.segments),
        "min_arr": rule.min_arr,
        **extra,
    }


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
    frame = _query(connection, sql, _params(rule, ctx, bands=list(rule.bands)))
    frame["fired"] = frame.pop("changed").astype(bool) & ~frame["held_back"].astype(bool)
    return frame


def _score_below(connection: Any, rule: ScoreBelow, ctx: RuleContext) -> pd.DataFrame:
    sql = f"""
        WITH {POPULATION}
        SELECT account_id, TRUE AS fired, score, $value::DOUBLE AS threshold
        FROM pop WHERE score < $value::DOUBLE"""
    return _query(connection, sql, _params(rule, ctx, value=rule.value))


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
    params = _params(
        rule, ctx, within=within, points=rule.points, back=rule.smooth - 1, smooth=rule.smooth
    )
    frame = _query(connection, sql, params)
    frame["fired"] = ~frame["held_back"].astype(bool)
    return frame


def _signal_values(date_param: str) -> str:
    return f"""
        SELECT account_id, any_value(raw_value) AS raw_value FROM score_items
        WHERE model_name = $model AND snapshot_date = {date_param}::DATE
          AND kind = 'signal' AND name = $signal
        GROUP BY account_id"""


def _signal_threshold(connection: Any, rule: SignalThreshold, ctx: RuleContext) -> pd.DataFrame:
    below = rule.below is not None
    sql = f"""
        WITH {POPULATION}, v AS ({_signal_values("$day")})
        SELECT p.account_id, TRUE AS fired, $signal AS signal, v.raw_value AS value,
               $threshold::DOUBLE AS threshold, $side AS side
        FROM pop p JOIN v USING (account_id)
        WHERE v.raw_value {"<" if below else ">"} $threshold::DOUBLE"""
    threshold = rule.below if below else rule.above
    params = _params(
        rule, ctx, signal=rule.signal, threshold=threshold, side="below" if below else "above"
    )
    return _query(connection, sql, params)


def _signal_change(connection: Any, rule: SignalChange, ctx: RuleContext) -> pd.DataFrame:
    signal = ctx.model.signals.get(rule.signal)
    width = (
        parse_days(rule.window)
        if rule.window is not None
        else (signal.window_days if signal is not None and signal.window_days else 30)
    )
    reference = connection.execute(
        "SELECT max(snapshot_date) FROM scores WHERE model_name = ? AND snapshot_date <= ?",
        [ctx.model.name, ctx.day - dt.timedelta(days=width)],
    ).fetchone()[0]
    if reference is None:
        return pd.DataFrame(columns=["account_id", "fired"])
    drop = -rule.drop_pct if rule.drop_pct is not None else None
    sql = f"""
        WITH {POPULATION}, now AS ({_signal_values("$day")}),
        before AS ({_signal_values("$reference")}),
        changes AS (
            SELECT p.account_id, b.raw_value AS value_before, n.raw_value AS value,
                   (n.raw_value - b.raw_value) / abs(b.raw_value) * 100 AS change_pct
            FROM pop p JOIN now n USING (account_id) JOIN before b USING (account_id)
            WHERE b.raw_value IS NOT NULL AND b.raw_value <> 0 AND n.raw_value IS NOT NULL
        )
        SELECT account_id, TRUE AS fired, $signal AS signal, value_before,
               $reference::DATE AS reference_snapshot, value, round(change_pct, 1) AS change_pct
        FROM changes
        WHERE ($drop::DOUBLE IS NOT NULL AND change_pct <= $drop::DOUBLE)
           OR ($rise::DOUBLE IS NOT NULL AND change_pct >= $rise::DOUBLE)"""
    params = _params(
        rule, ctx, signal=rule.signal, reference=reference, drop=drop, rise=rule.rise_pct
    )
    return _query(connection, sql, params)


def _flag_raised(connection: Any, rule: FlagRaised, ctx: RuleContext) -> pd.DataFrame:
    sql = f"""
        WITH {POPULATION},
        raised AS (SELECT account_id, from_json(flags, '["VARCHAR"]') AS all_flags FROM pop)
        SELECT account_id, TRUE AS fired,
               CASE WHEN len($flags::VARCHAR[]) = 0 THEN all_flags
                    ELSE list_intersect(all_flags, $flags::VARCHAR[]) END AS flags
        FROM raised
        WHERE CASE WHEN len($flags::VARCHAR[]) = 0 THEN len(all_flags) > 0
                   ELSE list_has_any(all_flags, $flags::VARCHAR[]) END"""
    return _query(connection, sql, _params(rule, ctx, flags=list(rule.flags)))


def _gate_failed(connection: Any, rule: GateFailed, ctx: RuleContext) -> pd.DataFrame:
    gate = ctx.model.gate.name if ctx.model.gate is not None else "gate"
    sql = f"""
        WITH {POPULATION}
        SELECT account_id, TRUE AS fired, $gate AS gate, base_score AS score_before_gate
        FROM pop WHERE NOT gate_pass"""
    return _query(connection, sql, _params(rule, ctx, gate=gate))


def _expansion_candidate(
    connection: Any, rule: ExpansionCandidate, ctx: RuleContext
) -> pd.DataFrame:
    expansion = ctx.model.expansion
    minimum = rule.min_score if rule.min_score is not None else 101.0
    if rule.min_score is None and expansion is not None:
        minimum = expansion.candidate_min
    sql = f"""
        WITH {POPULATION}
        SELECT p.account_id, TRUE AS fired, e.score AS expansion_score,
               $minimum::DOUBLE AS threshold, p.arr
        FROM pop p JOIN expansion_scores e ON e.model_name = $model
             AND e.snapshot_date = $day AND e.account_id = p.account_id
        WHERE e.score >= $minimum::DOUBLE"""
    return _query(connection, sql, _params(rule, ctx, minimum=minimum))


_SIGN_SQL = {
    "failed_payment": """
        SELECT account_id, 'failed_payment' AS sign,
               'invoice ' || invoice_id || ' ' || status || ' (' || amount || ')' AS detail
        FROM invoices
        WHERE lower(status) IN ('failed', 'uncollectible', 'payment_failed')
          AND issued_at >= $since AND issued_at < $t""",
    "overdue_invoice": """
        SELECT account_id, 'overdue_invoice' AS sign,
               'invoice ' || invoice_id || ' due ' || CAST(due_at AS DATE) AS detail
        FROM invoices
        WHERE lower(coalesce(status, 'open')) IN ('open', 'past_due', 'overdue')
          AND due_at >= $since AND due_at < $t AND (paid_at IS NULL OR paid_at >= $t)""",
    "downgrade": """
        SELECT account_id, 'downgrade' AS sign,
               'subscription ' || subscription_id || ': mrr ' || coalesce(prev_mrr, mrr)
               || ' → ' || coalesce(mrr, prev_mrr) || ', seats ' || coalesce(prev_seats, seats)
               || ' → ' || coalesce(seats, prev_seats) AS detail
        FROM (SELECT *, lag(mrr) OVER w AS prev_mrr, lag(seats) OVER w AS prev_seats
              FROM subscriptions WHERE started_at < $t
              WINDOW w AS (PARTITION BY account_id ORDER BY started_at))
        WHERE started_at >= $since AND (mrr < prev_mrr OR seats < prev_seats)
        UNION ALL
        SELECT account_id, 'downgrade' AS sign,
               'contracted: arr ' || coalesce(arr_before, 0) || ' → ' || coalesce(arr_after, 0)
        FROM outcomes
        WHERE kind = 'contracted' AND occurred_at >= $since AND occurred_at < $t""",
    "cancellation": """
        SELECT account_id, 'cancellation' AS sign,
               'subscription ' || subscription_id || ' canceled' AS detail
        FROM subscriptions
        WHERE lower(coalesce(status, '')) IN ('canceled', 'cancelled')
          AND coalesce(ended_at, started_at) >= $since
          AND coalesce(ended_at, started_at) < $t""",
}


def _commercial(connection: Any, rule: CommercialDisagreement, ctx: RuleContext) -> pd.DataFrame:
    bands = rule.bands or ctx.model.band_names[:1]
    signs = " UNION ALL ".join(f"({_SIGN_SQL[s]})" for s in dict.fromkeys(rule.signs))
    sql = f"""
        WITH {POPULATION}, found AS ({signs})
        SELECT p.account_id, TRUE AS fired, any_value(p.band) AS band,
               list_sort(list_distinct(list(f.sign))) AS signs,
               list_sort(list_distinct(list(f.detail))) AS details
        FROM pop p JOIN found f USING (account_id)
        WHERE p.band IN (SELECT UNNEST($bands::VARCHAR[]))
        GROUP BY p.account_id"""
    since = ctx.start - dt.timedelta(days=parse_days(rule.within))
    return _query(connection, sql, _params(rule, ctx, bands=bands, since=since))


def _stale(
    connection: Any, rule: Any, ctx: RuleContext, table: str, extra: str = ""
) -> pd.DataFrame:
    time_column = CANONICAL_TABLES[table].time_column
    days = parse_days(rule.days)
    never = "OR last_seen IS NULL" if rule.include_never else ""
    sql = f"""
        WITH {POPULATION},
        heard AS (SELECT max({time_column}) AS newest FROM {table} WHERE {time_column} < $t),
        seen AS (
            SELECT p.account_id, max(x.{time_column}) AS last_seen{extra}
            FROM pop p JOIN accounts a USING (account_id)
            LEFT JOIN {table} x ON x.account_id = p.account_id AND x.{time_column} < $t
            WHERE a.created_at < $t - to_days($days::INTEGER)
            GROUP BY p.account_id
        )
        SELECT *, TRUE AS fired, $table AS source,
               date_diff('day', last_seen, $t) AS days_silent
        FROM seen
        WHERE (last_seen < $t - to_days($days::INTEGER) {never})
          AND (SELECT newest FROM heard) >= $t - to_days($days::INTEGER)"""
    return _query(connection, sql, _params(rule, ctx, days=days, table=table))


def _data_stale(connection: Any, rule: DataStale, ctx: RuleContext) -> pd.DataFrame:
    return _stale(connection, rule, ctx, rule.table)


def _csm_stale(connection: Any, rule: CsmRatingStale, ctx: RuleContext) -> pd.DataFrame:
    extra = ", arg_max(x.rating, x.rated_at) AS last_rating"
    return _stale(connection, rule, ctx, "csm_ratings", extra)


EVALUATORS: dict[str, Callable[[Any, Any, RuleContext], pd.DataFrame]] = {
    "band_entered": _band_rule,
    "band_left": _band_rule,
    "score_below": _score_below,
    "score_dropped": _score_dropped,
    "signal_threshold": _signal_threshold,
    "signal_change": _signal_change,
    "flag_raised": _flag_raised,
    "gate_failed": _gate_failed,
    "commercial_disagreement": _commercial,
    "data_stale": _data_stale,
    "csm_rating_stale": _csm_stale,
    "expansion_candidate": _expansion_candidate,
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
