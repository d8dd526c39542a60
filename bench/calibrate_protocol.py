"""Calibrate's out-of-sample protocol on the demo world and saas_churn: portfolio vs per segment.

For each dataset, `calibrate` with 20% of the accounts held out, once with the portfolio
weights and once `--by-segment segment`: the AUC per fold (mean ± sd, range), pooled on one
scale with its interval, the held-out accounts' AUC, the old model's on the same rows, and the
signals flagged unstable or wrong-way. The figures are recorded in docs/backtest.md.

    .venv/bin/python bench/calibrate_protocol.py                      # data in ../shared/data
    .venv/bin/python bench/calibrate_protocol.py --demo-accounts 1500 --data DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vitalsign.analytics.calibrate import Calibration, calibrate
from vitalsign.analytics.datasets.saas_churn import load_saas_churn
from vitalsign.demo.world import generate_world, write_world
from vitalsign.engine.run import backfill, date_range, score
from vitalsign.store.workspace import Workspace, init_workspace

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = 0.2


def _demo(folder: Path, accounts: int, seed: int) -> Workspace:
    """The demo world with its starter model backfilled every three weeks."""
    world = generate_world(accounts=accounts, seed=seed)
    workspace = init_workspace(folder)
    write_world(world, workspace.duckdb)
    dates = date_range(world.start + dt.timedelta(days=120), world.end, 21)
    backfill(workspace, dates, workspace.load_model(), show_progress=False)
    return workspace


def _row(table: Table, dataset: str, mode: str, result: Calibration, seconds: float) -> None:
    p = result.validation.protocol
    assert p is not None
    held = "—" if p.holdout is None else f"{p.holdout.old_auc.value:.3f} → {p.holdout.new_auc}"
    flagged = sorted(f"{s.scorecard}.{s.signal}" for s in p.stability if s.flags)
    table.add_row(
        dataset,
        mode,
        p.method,
        str(p.new_over_folds),
        f"{p.pooled_old.value:.3f} → {p.pooled_new}",
        held,
        str(len(flagged)),
        f"{seconds:.0f}",
    )


def main() -> None:
    """Run both datasets both ways and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--demo-accounts", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    table = Table(title=f"calibrate, {HOLDOUT:.0%} of accounts held out")
    for column in (
        "data", "weights", "validated by", "new AUC over folds", "pooled: old → new",
        "held out: old → new", "flagged", "s",
    ):  # fmt: skip
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs: list[tuple[str, Workspace, dict[str, object]]] = []
        demo = _demo(work / "demo", args.demo_accounts, args.seed)
        runs.append((f"demo world ({args.demo_accounts})", demo, {}))
        csv = args.data / "saas_churn" / "churn.csv"
        if csv.exists():
            saas = init_workspace(work / "saas")
            info = load_saas_churn(saas, csv)
            model = saas.load_model(info.model_path)
            score(saas, info.snapshot, model)
            options = {
                "model": model,
                "horizon_days": info.horizon_days,
                "until": info.observed_until,
                "reverse": True,
            }
            runs.append(("saas_churn", saas, options))
        for dataset, workspace, options in runs:
            for mode, column in (("portfolio", None), ("per segment", "segment")):
                start = time.perf_counter()
                result = calibrate(
                    workspace,
                    output=work / f"{dataset}-{mode}.yml".replace(" ", "_"),
                    holdout_share=HOLDOUT,
                    by_segment=column,
                    **options,  # type: ignore[arg-type]
                )
                _row(table, dataset, mode, result, time.perf_counter() - start)
            workspace.close()
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
