"""Alerts on risk, not movement: the second round of bench/alert_ideas.py's simulation.

The same simulation (weekly scores, silence and churn dates of a demo workspace; an alert
opens when its rule fires and none is open, and stays open while the keep condition holds;
no baseline or held-back data), with what the first round lacked:

- a **steadier starter model**, approximated from the stored score items: the contribution
  of `logins_vs_baseline` (and `login_trend`) replaced by its 4-week mean or by a constant;
- a **cooldown** (no reopening for N weeks after an alert resolved);
- a **drop only on an account already at risk**, and a **risk index** mixing drop and level;
- the **renewal**: every churn in the demo falls at the end of a subscription term, so rules
  that hold only when the renewal is within 60 or 90 days (`renewal_within`).

Each line: alerts opened per weekly snapshot (median, the first snapshot left out: a replay
records the baseline there) and the churners with an alert opened within 90 days before
churning. Figures are recorded in docs/alerts.md ("Measured on the demo's replayed year").

    .venv/bin/python bench/alert_risk_ideas.py --demo /path/to/demo   # a `vitalsign demo` folder
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from alert_ideas import OTHER, Rule, alerted, below, drop, load, quiet, smooth

Frame = pd.DataFrame


def opened(fires: Frame, keeps: Frame, cooldown: int = 0) -> Frame:
    """Return where alerts open; after one resolves, none reopens for `cooldown` snapshots."""
    fire, keep = fires.fillna(False).to_numpy(bool), keeps.fillna(False).to_numpy(bool)
    is_open = np.zeros(fire.shape[0], bool)
    closed_at = np.full(fire.shape[0], -10_000)
    out = np.zeros_like(fire)
    for week in range(fire.shape[1]):
        out[:, week] = fire[:, week] & ~is_open & (week - closed_at > cooldown)
        still = (is_open & keep[:, week]) | out[:, week]
        closed_at[is_open & ~still] = week
        is_open = still
    return pd.DataFrame(out, index=fires.index, columns=fires.columns)


def measure(
    name: str, rules: list[Rule], churn: pd.Series, cooldown: int = 0
) -> tuple[float, int, str]:
    """Print and return one candidate: alerts a week (median) and churners alerted."""
    opens = [opened(f, k, cooldown) for f, k in rules]
    weekly = sum(o.to_numpy().sum(axis=0) for o in opens)
    churners = len(set().union(*(alerted(o, churn) for o in opens)))
    point = (float(np.median(np.asarray(weekly)[1:])), churners, name)
    print(f"{name:64} {point[0]:6.1f} a week, {churners:3d} churners", flush=True)
    return point


def contributions(demo: Path, grid: Frame, name: str) -> Frame:
    """Return one signal's contribution to the score (account × snapshot)."""
    con = duckdb.connect(str(demo / "vitalsign.duckdb"), read_only=True)
    rows = con.execute(
        """SELECT account_id, snapshot_date, contribution FROM score_items
           WHERE model_name = 'default' AND kind = 'signal' AND name = ?""",
        [name],
    ).df()
    con.close()
    frame = rows.pivot(index="account_id", columns="snapshot_date", values="contribution")
    return frame.reindex(index=grid.index, columns=grid.columns).fillna(0.0)


def renewal_days(demo: Path, grid: Frame) -> Frame:
    """Return the days to the next renewal (account × snapshot), as `renewal_within` reads it."""
    con = duckdb.connect(str(demo / "vitalsign.duckdb"), read_only=True)
    dates = con.execute("SELECT account_id, renewal_date FROM accounts").df()
    con.close()
    renewal = pd.to_datetime(dates.set_index("account_id")["renewal_date"].reindex(grid.index))
    ahead = pd.DataFrame({day: (renewal - pd.Timestamp(day)).dt.days for day in grid.columns})
    return ahead.where(ahead < 365, ahead - 365 * np.floor(ahead / 365))


def weekly_sd(grid: Frame) -> float:
    """Return the standard deviation of the week-to-week change of the score."""
    return float(np.nanstd(grid.diff(axis=1).to_numpy()))


def main(argv: list[str] | None = None) -> int:
    """Simulate the candidates on a demo workspace and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, required=True, help="a `vitalsign demo` folder")
    demo = parser.parse_args(argv).demo
    grid, silent, churn = load(demo)
    other: Rule = (OTHER[0], OTHER[0])
    red, q35 = below(grid, 40), quiet(silent, 35)
    base = [other, red, q35]

    print("-- a steadier model (drops on the score with the noisy signals' contribution smoothed)")
    lvb = contributions(demo, grid, "logins_vs_baseline")
    trend = contributions(demo, grid, "login_trend")
    steadier = {
        "stored scores": grid,
        "logins_vs_baseline over 4 weeks": grid - lvb + smooth(lvb, 4),
        "logins_vs_baseline and login_trend over 4 weeks": grid
        - lvb
        + smooth(lvb, 4)
        - trend
        + smooth(trend, 4),
        "logins_vs_baseline constant": grid - lvb + lvb.mean(axis=1).to_numpy()[:, None],
    }
    for label, scores in steadier.items():
        print(f"{label}: the score moves {weekly_sd(scores):.2f} points a week (sd)")
        for points, k in ((15, 1), (15, 2), (20, 1), (20, 2)):
            rules = [other, below(scores, 40), q35, drop(scores, points, k=k)]
            measure(f"  drop {points} on the mean of {k}", rules, churn)

    print("-- a cooldown on every rule (red, drop 15, quiet 35d, others)")
    for weeks in (0, 4, 8, 13, 26):
        measure(f"cooldown {weeks} weeks", [*base, drop(grid, 15)], churn, cooldown=weeks)

    print("-- a drop only on an account at risk")
    fired, kept = drop(grid, 15)
    for cap in (50, 55, 60, 65, 70):
        measure(f"drop 15 with the score below {cap}", [*base, (fired & (grid < cap), kept)], churn)

    print("-- a risk index: drop + a x (70 - score), the most churners at each volume")
    points = []
    for k in (1, 2):
        mean = smooth(grid, k)
        peak = pd.concat([mean.shift(j, axis=1) for j in range(1, 5)]).groupby(level=0).max()
        for a in (0.0, 0.25, 0.5, 1.0):
            risk = peak - mean + a * (70 - mean)
            for edge in (12, 15, 18, 20, 22, 28):
                rule = (risk >= edge, risk >= edge - 5)
                name = f"drop on the mean of {k} + {a} x (70 - score) >= {edge}"
                points.append(measure(name, [*base, rule], churn))
    _frontier(points)

    print("-- the renewal (red with persistence 2 below: two weeks in red)")
    days = renewal_days(demo, grid)
    red2 = (red[0] & red[0].shift(1, axis=1, fill_value=False), red[1])
    for window in (60, 90):
        near = (days >= 0) & (days <= window)
        measure(f"every account renewing within {window} days, alone", [(near, near)], churn)
        measure(
            f"drop 15 renewing within {window} days", [*base, (near & fired, near & kept)], churn
        )
    points = []
    for window in (45, 60, 90):
        near = (days >= 0) & (days <= window)
        for value in (55, 60, 65, 70, 75):
            risk = (near & (grid < value), near)  # open until the renewal passes
            for label, reds in (("red p1", red), ("red p2", red2)):
                name = f"{label}, below {value} renewing within {window} days"
                points.append(measure(name, [other, reds, q35, risk], churn))
    _frontier(points)
    return 0


def _frontier(points: list[tuple[float, int, str]]) -> None:
    """Print the most churners reached at each volume."""
    best = -1
    print("frontier (a week, churners):")
    for weekly, reached, name in sorted(points, key=lambda p: (p[0], -p[1])):
        if reached > best:
            best = reached
            print(f"  {weekly:6.1f} a week, {reached:3d} churners: {name}")


if __name__ == "__main__":
    sys.exit(main())
