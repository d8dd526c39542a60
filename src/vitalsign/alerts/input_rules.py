"""Alert rules over the inputs: signal thresholds and changes, flags, the gate, expansion
candidates, commercial disagreement and silence (data or CSM rating gone stale).

Each returns the accounts for which its condition holds on the context's day, with the
values behind it and whether it fired; alerts/rules.py dispatches to them by rule type.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from vitalsign.alerts.config import (
    CommercialDisagreement,
    CsmRatingStale,
    DataStale,
    ExpansionCandidate,
    FlagRaised,
    GateFailed,
    SignalChange,
    SignalThreshold,
)
from vitalsign.alerts.rule_sql import (
    POPULATION,
    RuleContext,
    query,
    rule_params,
)
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.spec import parse_days


def _signal_values(date_param: str) -> str:
    return f"""
        SELECT account_id, any_value(raw_value) AS raw_value FROM score_items
        WHERE model_name = $model AND snapshot_date = {date_param}::DATE
          AND kind = 'signal' AND name = $signal
        GROUP BY account_id"""


def signal_threshold(connection: Any, rule: SignalThreshold, ctx: RuleContext) -> pd.DataFrame:
    """The accounts whose signal value is past the rule's threshold on the day."""
    below = rule.below is not None
    sql = f"""
        WITH {POPULATION}, v AS ({_signal_values("$day")})
        SELECT p.account_id, TRUE AS fired, $signal AS signal, v.raw_value AS value,
               $threshold::DOUBLE AS threshold, $side AS side
        FROM pop p JOIN v USING (account_id)
        WHERE v.raw_value {"<" if below else ">"} $threshold::DOUBLE"""
    threshold = rule.below if below else rule.above
    params = rule_params(
        rule, ctx, signal=rule.signal, threshold=threshold, side="below" if below else "above"
    )
    return query(connection, sql, params)


def signal_change(connection: Any, rule: SignalChange, ctx: RuleContext) -> pd.DataFrame:
    """The accounts whose signal moved by the rule's amount since the compared snapshot."""
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
    params = rule_params(
        rule, ctx, signal=rule.signal, reference=reference, drop=drop, rise=rule.rise_pct
    )
    return query(connection, sql, params)


def flag_raised(connection: Any, rule: FlagRaised, ctx: RuleContext) -> pd.DataFrame:
    """The accounts on which one of the rule's flags is raised on the day."""
    sql = f"""
        WITH {POPULATION},
        raised AS (SELECT account_id, from_json(flags, '["VARCHAR"]') AS all_flags FROM pop)
        SELECT account_id, TRUE AS fired,
               CASE WHEN len($flags::VARCHAR[]) = 0 THEN all_flags
                    ELSE list_intersect(all_flags, $flags::VARCHAR[]) END AS flags
        FROM raised
        WHERE CASE WHEN len($flags::VARCHAR[]) = 0 THEN len(all_flags) > 0
                   ELSE list_has_any(all_flags, $flags::VARCHAR[]) END"""
    return query(connection, sql, rule_params(rule, ctx, flags=list(rule.flags)))


def gate_failed(connection: Any, rule: GateFailed, ctx: RuleContext) -> pd.DataFrame:
    """The accounts whose gate failed on the day, with the failing condition's values."""
    gate = ctx.model.gate.name if ctx.model.gate is not None else "gate"
    sql = f"""
        WITH {POPULATION}
        SELECT account_id, TRUE AS fired, $gate AS gate, base_score AS score_before_gate
        FROM pop WHERE NOT gate_pass"""
    return query(connection, sql, rule_params(rule, ctx, gate=gate))


def expansion_candidate(
    connection: Any, rule: ExpansionCandidate, ctx: RuleContext
) -> pd.DataFrame:
    """The accounts whose expansion score reaches the rule's minimum on the day."""
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
    return query(connection, sql, rule_params(rule, ctx, minimum=minimum))


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


def commercial_disagreement(
    connection: Any, rule: CommercialDisagreement, ctx: RuleContext
) -> pd.DataFrame:
    """The accounts in the rule's bands while billing disagrees (failed, overdue, downgrade)."""
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
    return query(connection, sql, rule_params(rule, ctx, bands=bands, since=since))


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
    return query(connection, sql, rule_params(rule, ctx, days=days, table=table))


def data_stale(connection: Any, rule: DataStale, ctx: RuleContext) -> pd.DataFrame:
    """The accounts whose table has received no row for the rule's time while others' did."""
    return _stale(connection, rule, ctx, rule.table)


def csm_rating_stale(connection: Any, rule: CsmRatingStale, ctx: RuleContext) -> pd.DataFrame:
    """The accounts whose CSM rating is older than the rule allows."""
    extra = ", arg_max(x.rating, x.rated_at) AS last_rating"
    return _stale(connection, rule, ctx, "csm_ratings", extra)
