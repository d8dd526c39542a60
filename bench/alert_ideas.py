"""Which score and silence rules could make the demo's alerts 3× quieter without losing churners?

A quick simulation beside `bench/alerts.py` (which replays the real engine): it reads a
demo workspace's weekly scores, the days each account was silent in `events` and the churn
dates, and plays each candidate rule with the alert lifecycle reduced to its core — an
alert opens when the rule fires and none is open, and stays open while the keep condition
(the rule loosened by its margin) holds; no baseline, cooldown or held-back data. For each
candidate it prints the alerts in the year, the alerts opened per weekly snapshot (median)
and the churners with an alert opened within 90 days before churning. Rules not on scores
or silence are left out (bench/alerts.py measures them), except in the closing frontier,
which adds champion_left and the gate as they hold.

    .venv/bin/python bench/alert_ideas.py --demo /path/to/demo   # a `vitalsign demo` folder

Figures are recorded in docs/alerts.md ("What did not make it 3× quieter").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from vitalsign.alerts.stats import CHURN_DATES

HORIZON = pd.Timedelta(days=90)
Rule = tuple[pd.DataFrame, pd.DataFrame]  # (fires, keeps) per account × snapshot


def load(demo: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Return scores and days silent (account × snapshot) and churn dates per account."""
    con = duckdb.connect(str(demo / "vitalsign.duckdb"), read_only=True)
    scores = con.execute(
        "SELECT account_id, snapshot_date, score FROM scores WHERE model_name = 'default'"
    ).df()
    silent = con.execute(
        """WITH s AS (SELECT account_id, snapshot_date, snapshot_date::TIMESTAMP AS t
                      FROM scores WHERE model_name = 'default'),
                e AS (SELECT account_id, timestamp AS ts FROM events)
        SELECT s.account_id, s.snapshot_date, date_diff('day', e.ts, s.t) AS silent
        FROM s ASOF LEFT JOIN e ON s.account_id = e.account_id AND s.t > e.ts"""
    ).df()
    churn = con.execute(f"WITH {CHURN_DATES} SELECT account_id, churned_at FROM churn").df()
    grid = scores.pivot(index="account_id", columns="snapshot_date", values="score")
    quiet = silent.pivot(index="account_id", columns="snapshot_date", values="silent")
    quiet = quiet.reindex(index=grid.index, columns=grid.columns).astype(float)
    others = con.execute(
        """SELECT account_id, snapshot_date,
                  coalesce(list_contains(from_json(flags, '["VARCHAR"]'), 'champion_left'), FALSE)
                  OR NOT gate_pass AS other
           FROM scores WHERE model_name = 'default'"""
    ).df()
    con.close()
    other = others.pivot(index="account_id", columns="snapshot_date", values="other")
    OTHER.append(other.reindex(index=grid.index, columns=grid.columns).fillna(False).astype(bool))
    return grid, quiet, churn.set_index("account_id")["churned_at"]


OTHER: list[pd.DataFrame] = []  # champion_left raised or the gate failed, set by load()


def opened(fires: pd.DataFrame, keeps: pd.DataFrame) -> pd.DataFrame:
    """Return where alerts open: the rule fires and no alert is open (kept while `keeps`)."""
    fire, keep = fires.fillna(False).to_numpy(bool), keeps.fillna(False).to_numpy(bool)
    is_open = np.zeros(fire.shape[0], bool)
    out = np.zeros_like(fire)
    for week in range(fire.shape[1]):
        out[:, week] = fire[:, week] & ~is_open
        is_open = (is_open & keep[:, week]) | out[:, week]
    return pd.DataFrame(out, index=fires.index, columns=fires.columns)


def alerted(opens: pd.DataFrame, churn: pd.Series) -> set[str]:
    """Return the churners with an alert opened within the horizon before churning."""
    stacked = opens.stack()
    pairs = stacked[stacked].reset_index().iloc[:, :2]
    pairs.columns = pd.Index(["account_id", "day"])
    pairs = pairs[pairs["account_id"].isin(churn.index)]
    churned = pd.to_datetime(pairs["account_id"].map(churn))
    day = pd.to_datetime(pairs["day"])
    return set(pairs[(day <= churned) & (day > churned - HORIZON)]["account_id"])


def smooth(grid: pd.DataFrame, k: int) -> pd.DataFrame:
    """Return the mean of each account's last `k` snapshots."""
    return grid.T.rolling(k, min_periods=1).mean().T


def drop(grid: pd.DataFrame, points: float, weeks: int = 4, k: int = 1, margin: float = 5) -> Rule:
    """score_dropped on the k-snapshot mean: `points` below its peak of the last `weeks`."""
    mean = smooth(grid, k)
    peak = pd.concat([mean.shift(j, axis=1) for j in range(1, weeks + 1)]).groupby(level=0).max()
    return peak - mean >= points, peak - mean >= points - margin


def noisy_drop(grid: pd.DataFrame, z: float, floor: float, margin: float = 5) -> Rule:
    """A drop larger than z × the account's week-to-week spread (13 weeks), at least `floor`."""
    spread = grid.diff(axis=1).T.rolling(13, min_periods=4).std().T.shift(1, axis=1)
    peak = pd.concat([grid.shift(j, axis=1) for j in range(1, 5)]).groupby(level=0).max()
    edge = np.maximum(z * spread, floor)
    return peak - grid >= edge, peak - grid >= edge - margin


def below(grid: pd.DataFrame, value: float, k: int = 1, margin: float = 5) -> Rule:
    """score_below on the k-snapshot mean."""
    mean = smooth(grid, k)
    return mean < value, mean < value + margin


def quiet(silent: pd.DataFrame, days: int) -> Rule:
    """data_stale on events: silent for more than `days`."""
    return silent > days, silent > days


def measure(name: str, rules: Iterable[Rule], churn: pd.Series, merged: bool = False) -> None:
    """Print one candidate: per-rule alerts, or one alert per account when `merged`."""
    rules = list(rules)
    if merged:
        fires = sum(f.fillna(False).astype(int) for f, _ in rules) > 0
        keeps = sum(k.fillna(False).astype(int) for _, k in rules) > 0
        opens = [opened(fires, keeps)]
    else:
        opens = [opened(f, k) for f, k in rules]
    weekly = sum(o.to_numpy().sum(axis=0) for o in opens)
    churners = set().union(*(alerted(o, churn) for o in opens))
    print(
        f"{name:52} {int(np.sum(weekly)):5d} alerts, {float(np.median(weekly)):6.1f} a week, "
        f"{len(churners):3d} churners alerted"
    )


def main(argv: list[str] | None = None) -> int:
    """Simulate the candidates on a demo workspace and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, required=True, help="a `vitalsign demo` folder")
    grid, silent, churn = load(parser.parse_args(argv).demo)
    red, q14, q35 = below(grid, 40), quiet(silent, 14), quiet(silent, 35)
    measure(
        "starter score+silence rules (red, drop 15/30d, quiet 14d)",
        [red, drop(grid, 15), q14],
        churn,
    )
    for points in (10, 15, 20):
        for k in (1, 2, 3, 4):
            measure(
                f"drop {points} on the mean of {k} snapshots, alone",
                [drop(grid, points, k=k)],
                churn,
            )
    for weeks in (8, 13):
        measure(f"drop 15 within {weeks} weeks, alone", [drop(grid, 15, weeks)], churn)
    for z in (2.0, 2.5, 3.0, 3.5):
        measure(f"drop > {z} x own weekly spread (min 10), alone", [noisy_drop(grid, z, 10)], churn)
    for value in (40, 45, 50):
        for k in (1, 3):
            measure(
                f"score below {value} on the mean of {k}, alone", [below(grid, value, k)], churn
            )
    for days in (14, 21, 28, 35):
        measure(f"events silent > {days} days, alone", [quiet(silent, days)], churn)
    measure("red + quiet 35d (no drop rule)", [red, q35], churn)
    for points in (15, 20):
        rules = [red, drop(grid, points), q35]
        measure(f"red + drop {points} + quiet 35d", rules, churn)
        measure(f"red + drop {points} + quiet 35d, one alert per account", rules, churn, True)
    frontier(grid, silent, churn)
    return 0


def frontier(grid: pd.DataFrame, silent: pd.DataFrame, churn: pd.Series) -> None:
    """Print the best churners reached at each volume: red, silence, a drop, the others.

    The others: champion_left raised or the gate failed (green_but_billing_says_no, about
    3 a week, is left out).
    """
    other = (OTHER[0], OTHER[0])
    points: list[tuple[float, int, str]] = []
    for days in (21, 35, 60):
        for value in (40, 45):
            base = [other, quiet(silent, days), below(grid, value)]
            for k, drop_points in [(k, p) for k in (1, 2, 3) for p in (12, 15, 18, 20, 25)]:
                rules = [*base, drop(grid, drop_points, k=k)]
                opens = [opened(f, keep) for f, keep in rules]
                weekly = sum(o.to_numpy().sum(axis=0) for o in opens)
                reached = len(set().union(*(alerted(o, churn) for o in opens)))
                name = f"quiet {days}d, red below {value}, drop {drop_points} on mean of {k}"
                points.append((float(np.median(weekly)), reached, name))
    best = -1
    print("frontier (a week, churners): the most churners at each volume")
    for weekly, reached, name in sorted(points, key=lambda p: (p[0], -p[1])):
        if reached > best:
            best = reached
            print(f"  {weekly:6.1f} a week, {reached:3d} churners: {name}")


if __name__ == "__main__":
    sys.exit(main())
