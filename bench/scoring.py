"""Scoring-step benchmark: `score_frame` (points, groups, gate, flags, bands) on its own.

Generates a synthetic signal frame for the benchmark model (bench/score.py's MODEL_YAML)
with NumPy, deterministic by seed: counts with many ties, skewed amounts, missing values,
a categorical signal, two scorecards chosen by segment, gate and flags. Prints the rows per
second of `score_frame` for one date (100,000 accounts) and for a 13-date backfill batch.

    .venv/bin/python bench/scoring.py                      # 100k rows and 13 x 100k rows
    .venv/bin/python bench/scoring.py --accounts 20000 --dates 4 --repeat 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from score import AS_OF, load_bench_model
from vitalsign.engine.scoring import score_frame
from vitalsign.engine.signals import FLAG_PREFIX, signal_column
from vitalsign.model.spec import CategoricalScale, HealthModel

COUNT_AGGREGATES = {"count", "count_distinct"}
MISSING_SHARE = 0.1  # share of missing values in a signal that can be missing


def synthetic_frame(model: HealthModel, accounts: int, dates: int, seed: int) -> pd.DataFrame:
    """Return a signal frame of `accounts` rows per date, as the engine's query returns it."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(["smb", "mid-market", "enterprise"], size=accounts, p=[0.6, 0.3, 0.1])
    base = pd.DataFrame(
        {
            "account_id": [f"acct-{i:06d}" for i in range(accounts)],
            "name": [f"Account {i}" for i in range(accounts)],
            "owner": [f"csm-{i % 50:02d}" for i in range(accounts)],
            "segment": segment,
            "arr": np.round(rng.lognormal(9, 1, size=accounts), 2),
        }
    )
    card = np.where(segment == "enterprise", "enterprise", model.default_scorecard)
    parts = []
    for d in range(dates):
        frame = base.copy()
        frame["as_of"] = pd.Timestamp(AS_OF - dt.timedelta(weeks=d))
        for name, signal in model.signals.items():
            frame[signal_column(name)] = _signal_values(
                signal.scale, signal.aggregate, rng, accounts
            )
        frame["scorecard"] = card
        frame["model_segment"] = card
        frame["gate_pass"] = rng.random(accounts) < 0.95
        for flag in model.flags:
            frame[f"{FLAG_PREFIX}{flag}"] = rng.random(accounts) < 0.05
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _signal_values(
    scale: object, aggregate: str | None, rng: np.random.Generator, n: int
) -> np.ndarray:
    """Return one signal's raw values: counts (ties), amounts, categories, with gaps."""
    if isinstance(scale, CategoricalScale):
        keys = np.array([*scale.map, "other", None], dtype=object)
        return rng.choice(keys, size=n)
    if aggregate in COUNT_AGGREGATES:
        return rng.poisson(rng.choice([0.5, 4.0, 40.0]), size=n).astype("int64")
    values = rng.lognormal(1.0, 1.5, size=n) * rng.choice([1.0, 100.0])
    values = np.round(values, 2)  # some ties, as amounts have
    values[rng.random(n) < MISSING_SHARE] = np.nan
    return values


def best_seconds(frame: pd.DataFrame, model: HealthModel, repeat: int) -> float:
    """Return the best wall time of `score_frame` over `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        score_frame(frame, model)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Time `score_frame` on one date and on a backfill batch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--dates", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    model = load_bench_model().spec
    for dates in (1, args.dates):
        frame = synthetic_frame(model, args.accounts, dates, args.seed)
        seconds = best_seconds(frame, model, args.repeat)
        rows = len(frame)
        print(
            f"{rows:>10,} rows ({dates:>2} date{'s' if dates > 1 else ' '}): "
            f"{seconds:7.3f} s  {rows / seconds:>12,.0f} rows/s  "
            f"{seconds / rows * 100_000:6.3f} s per 100k rows"
        )


if __name__ == "__main__":
    main()
