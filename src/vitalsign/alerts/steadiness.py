"""Alerts people keep on: hysteresis (a margin to leave) and persistence (N snapshots to enter).

The band and threshold rules (band_entered, band_left, score_below, score_dropped,
signal_threshold) are the ones whose condition flips when a score or a value wobbles
around an edge. Two options steady them (docs/alerts.md, "Steady alerts"):

- **Hysteresis** (`margin`): an open alert stays open until the account is past the edge by
  the margin (score points for band and score rules, the signal's own units for
  signal_threshold), so a score going 39 → 41 → 39 does not resolve and re-open an alert.
- **Persistence** (`persistence`): a new alert opens only when the condition held on the
  last N consecutive snapshots (for band_entered and band_left: the band changed N − 1
  snapshots back and the account stayed), so one noisy snapshot alerts nobody. N defaults
  from the cadence of the snapshots (`default_persistence`).

Both are evaluated from the stored history, not from state kept between evaluations, so a
replay, a first evaluation and a daily run agree.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from vitalsign.alerts.config import BandEntered, BandLeft
from vitalsign.alerts.rule_sql import POPULATION, RuleContext
from vitalsign.alerts.rules import evaluate_rule
from vitalsign.model.spec import HealthModel

STEADY_TYPES = frozenset(
    {"band_entered", "band_left", "score_below", "score_dropped", "signal_threshold"}
)
TRANSITION_TYPES = frozenset({"band_entered", "band_left"})
PERSISTENT_TYPES = STEADY_TYPES | {"data_stale"}  # data_stale: only when it says so
DEFAULT_MARGIN_POINTS = 5.0
SIGNAL_MARGIN_SHARE = 0.1  # signal_threshold: 10 % of the threshold's size by default
_FAR = 1e9  # "no edge" for the best band's top and the worst band's bottom


def is_steady(rule: Any) -> bool:
    """Say whether `rule` is a band or threshold rule (it has `margin` and `persistence`)."""
    return rule.type in STEADY_TYPES


def margin_of(rule: Any, default: float | None = None) -> float:
    """Return the rule's hysteresis margin: as written, else `default`, else its type's."""
    if rule.margin is not None:
        return float(rule.margin)
    if default is not None:
        return float(default)
    if rule.type == "signal_threshold":
        threshold = rule.below if rule.below is not None else rule.above
        return abs(float(threshold)) * SIGNAL_MARGIN_SHARE
    return DEFAULT_MARGIN_POINTS


def cadence_days(dates: Sequence[dt.date]) -> int | None:
    """Return the usual gap in days between the latest snapshots (median of up to 8 gaps)."""
    recent = sorted(dates)[-9:]
    gaps = [(b - a).days for a, b in itertools.pairwise(recent)]
    return int(statistics.median(gaps)) if gaps else None


def default_persistence(cadence: int | None) -> int:
    """Return how many consecutive snapshots a condition must hold by default.

    About four days and at least two snapshots (daily: 4, weekly: 2); one when snapshots
    are four weeks or more apart, where waiting another snapshot would cost a month.

    >>> default_persistence(7), default_persistence(1), default_persistence(30)
    (2, 4, 1)
    """
    if cadence is None or cadence <= 0:
        return 2
    if cadence >= 28:
        return 1
    return max(2, math.ceil(4 / cadence))


def persistence_of(rule: Any, cadence: int | None, default: int | None = None) -> int:
    """Return the snapshots a rule's condition must hold before an alert opens.

    Band and threshold rules default from the cadence; data_stale holds 1 unless its
    `persistence` says otherwise; other rules fire at once.
    """
    if rule.type not in PERSISTENT_TYPES:
        return 1
    if rule.persistence is not None:
        return int(rule.persistence)
    if not is_steady(rule):
        return 1
    return default if default is not None else default_persistence(cadence)


def _band_ranges(model: HealthModel, bands: Sequence[str]) -> list[tuple[float, float]]:
    """Return the score ranges [low, high) the named bands cover, adjacent ones merged."""
    ranges: list[tuple[float, float]] = []
    upper = _FAR
    for band in model.bands:  # best first
        low = band.min if band is not model.bands[-1] else -_FAR
        if band.name in bands:
            if ranges and ranges[-1][0] == upper:
                ranges[-1] = (low, ranges[-1][1])
            else:
                ranges.append((low, upper))
        upper = band.min
    return ranges


def _band_keeping(
    connection: Any, rule: BandEntered | BandLeft, ctx: RuleContext, margin: float
) -> pd.DataFrame:
    """Return the accounts whose band alert stays open: in (or out of) the bands, or near."""
    column = "computed_band" if rule.computed else "band"
    near = "p.band = p.computed_band" if not rule.computed else "TRUE"
    inside = f"p.{column} IN (SELECT UNNEST($bands::VARCHAR[]))"
    ranges = _band_ranges(ctx.model, rule.bands)
    if isinstance(rule, BandEntered):
        close = " OR ".join(
            f"(p.score >= {low - margin!r} AND p.score < {high + margin!r})" for low, high in ranges
        )
        keeps = f"{inside} OR ({near} AND ({close or 'FALSE'}))"
    else:
        deep = " OR ".join(
            f"(p.score >= {low + margin!r} AND p.score < {high - margin!r})" for low, high in ranges
        )
        keeps = f"NOT ({inside}) OR ({near} AND p.score IS NOT NULL AND NOT ({deep or 'FALSE'}))"
    sql = f"""
        WITH {POPULATION}
        SELECT p.account_id, p.{column} AS band_now, p.score FROM pop p WHERE {keeps}"""
    params = {
        "model": ctx.model.name,
        "day": ctx.day,
        "segments": list(rule.segments),
        "min_arr": rule.min_arr,
        "bands": list(rule.bands),
    }
    frame: pd.DataFrame = connection.execute(sql, params).df()
    return frame


def keeping(
    connection: Any, rule: Any, ctx: RuleContext, today: pd.DataFrame, margin: float
) -> pd.DataFrame:
    """Return account_id and values of the accounts for which an open alert stays open.

    For a steady rule, that is the condition loosened by the margin; for any other rule,
    the condition itself (`today`, the rule's evaluation on ctx.day).
    """
    if margin <= 0:
        return today[["account_id", "values"]]
    if rule.type in TRANSITION_TYPES and margin > 0:
        frame = _band_keeping(connection, rule, ctx, margin)
        values = frame[["band_now", "score"]].to_dict("records") if len(frame) else []
        return pd.DataFrame({"account_id": frame["account_id"].astype(str), "values": values})
    if margin > 0 and rule.type == "score_below":
        rule = rule.model_copy(update={"value": rule.value + margin})
    elif margin > 0 and rule.type == "score_dropped":
        rule = rule.model_copy(update={"points": max(rule.points - margin, 0.0)})
    elif margin > 0 and rule.type == "signal_threshold":
        if rule.below is not None:
            rule = rule.model_copy(update={"below": rule.below + margin})
        else:
            rule = rule.model_copy(update={"above": rule.above - margin})
    frame = evaluate_rule(connection, rule, ctx)
    return frame[["account_id", "values"]]


def confirmed(
    rule: Any,
    today: pd.DataFrame,
    earlier: Sequence[dt.date],
    persistence: int,
    past: Callable[[dt.date], pd.DataFrame],
) -> pd.DataFrame:
    """Return the rows of `today` (the rule's evaluation) whose alert may open now.

    With persistence 1 those that fired. Otherwise a state rule must have held on each of
    the `persistence - 1` snapshots before too; a band rule must have fired on the first of
    those snapshots and held on every one since. The values are those of the day it fired.
    `past(date)` is the rule's evaluation on an earlier snapshot.
    """
    if persistence <= 1:
        return today[today["fired"]]
    window = list(earlier)[-(persistence - 1) :]
    if len(window) < persistence - 1:
        return today.iloc[0:0]
    frames = [past(d) for d in window]
    if rule.type in TRANSITION_TYPES:
        start = frames[0][frames[0]["fired"]]
        still = set(today["account_id"])
        for frame in frames[1:]:
            still &= set(frame["account_id"])
        chosen = start[start["account_id"].isin(still)]
        return chosen.assign(fired=True, held_back=False)
    fired = today[today["fired"]]
    keep = set(fired["account_id"])
    for frame in frames:
        keep &= set(frame["account_id"])
    return fired[fired["account_id"].isin(keep)]
