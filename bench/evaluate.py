"""Evaluate backtests and calibration on the demo world, saas_churn and RavenStack.

For each dataset: the starting model's backtest (ROC-AUC with an account-bootstrap 95%
interval), the calibrated model's AUC on held-out data, and a plain logistic regression on
the same inputs, validated the same way. Also the demo world with randomly permuted outcomes
(its interval must contain 0.5). The figures are recorded in docs/evaluation.md.

    .venv/bin/python bench/evaluate.py                          # data in ../shared/data
    .venv/bin/python bench/evaluate.py --data DIR --demo-accounts 1000 --json results.json

Re-runnable: every run builds fresh workspaces in a temporary folder (or --workdir).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from vitalsign.analytics.backtest import run_backtest
from vitalsign.analytics.calibrate import calibrate
from vitalsign.analytics.datasets.ravenstack import load_ravenstack
from vitalsign.analytics.datasets.saas_churn import (
    baseline_features,
    load_saas_churn,
    read_churn_csv,
)
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.metrics import Bootstrap, Estimate, auc_estimate
from vitalsign.analytics.outcomes import LABELLED, label_snapshots, read_outcomes
from vitalsign.demo.world import World, generate_world, write_world
from vitalsign.engine.run import backfill, date_range, score
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace, init_workspace

ROOT = Path(__file__).resolve().parents[1]
BAD_MODEL = ROOT / "tests" / "fixtures" / "models" / "demo_bad.yml"
HORIZON = 90


def _plain_lr() -> Any:
    return LogisticRegression(max_iter=5000)


def _signal_frame(history: History) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The model's signals as LR inputs: raw numbers, and text for categorical signals."""
    raw, text = history.wide("raw_value"), history.wide("raw_text")
    numeric = [s for s in raw.columns if raw[s].notna().any()]
    categorical = [s for s in text.columns if s not in numeric]
    frame = pd.concat([raw[numeric], text[categorical].astype(object)], axis=1)
    frame[categorical] = frame[categorical].fillna("missing")
    return frame, numeric, categorical


def _lr_pipeline(numeric: list[str], categorical: list[str]) -> Any:
    numbers = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    columns = ColumnTransformer(
        [("n", numbers, numeric), ("c", OneHotEncoder(handle_unknown="ignore"), categorical)]
    )
    return make_pipeline(columns, _plain_lr())


def plain_lr_out_of_time(
    history: History, outcomes: Any, train_dates: list[dt.date], test_dates: list[dt.date]
) -> Estimate:
    """A logistic regression on the model's raw signal values, trained and tested like calibrate."""
    labelled = label_snapshots(history.scores, outcomes, HORIZON)
    scored = labelled["score"].notna() & (
        labelled["computed_band"] != history.model.spec.insufficient_band
    )
    usable = (labelled["status"] == LABELLED) & scored
    day = labelled["as_of"].dt.date
    train = (usable & day.isin(set(train_dates))).to_numpy()
    test = (usable & day.isin(set(test_dates))).to_numpy()
    frame, numeric, categorical = _signal_frame(history)
    model = _lr_pipeline(numeric, categorical)
    y = labelled["churned"].to_numpy(dtype=bool)
    model.fit(frame[train], y[train])
    risk = model.predict_proba(frame[test])[:, 1]
    boot = Bootstrap.by_account(labelled["account_id"].to_numpy()[test], 200, 0)
    return auc_estimate(risk, y[test], boot)


def _snapshot_dates(world: World) -> list[dt.date]:
    start = world.start + dt.timedelta(days=120)
    return date_range(start, world.end, 14)


def _demo_workspace(
    folder: Path, world: World, model_path: Path | None
) -> tuple[Workspace, LoadedModel]:
    if folder.exists():
        shutil.rmtree(folder)
    workspace = init_workspace(folder)
    write_world(world, workspace.duckdb)
    model = workspace.load_model(model_path)
    backfill(workspace, _snapshot_dates(world), model, show_progress=False)
    return workspace, model


def evaluate_demo(workdir: Path, accounts: int, seed: int) -> dict[str, Any]:
    """The demo world: the starter model, a bad model, and permuted outcomes."""
    world = generate_world(accounts=accounts, seed=seed)
    results: dict[str, Any] = {"accounts": accounts, "seed": seed}
    workspace, model = _demo_workspace(workdir / "demo", world, None)
    report = run_backtest(workspace, model, HORIZON)
    results["starter_backtest"] = {
        "roc_auc": str(report.roc_auc),
        "pr_auc": str(report.pr_auc),
        "base_rate": round(report.base_rate, 4),
        "rows": report.counts["evaluated"],
        "churned": report.counts["churned"],
        "monotone": report.monotone,
        "band_churn": {
            r["band"]: round(float(r["churn_rate"]), 4)
            for r in report.bands.to_dict(orient="records")
            if r["rows"]
        },
        "csm": None if report.csm is None else {
            "kappa": round(report.csm.kappa, 3), "csm_auc": str(report.csm.csm_auc),
            "score_auc": str(report.csm.score_auc), "verdict": report.csm.verdict,
        },
        "leak_suspected": report.leaks.suspected,
    }  # fmt: skip
    result = calibrate(workspace, model, HORIZON, output=workdir / "demo-starter.proposed.yml")
    v = result.validation
    outcomes = read_outcomes(workspace.duckdb)
    lr = plain_lr_out_of_time(
        read_history(workspace.duckdb, model), outcomes, v.train_dates, v.test_dates
    )
    results["starter_calibration"] = {
        "test": f"{v.test_dates[0]} to {v.test_dates[-1]}",
        "old_auc": str(v.old_auc),
        "calibrated_auc": str(v.new_auc),
        "plain_lr_auc": str(lr),
    }
    workspace.close()
    workspace, bad = _demo_workspace(workdir / "demo-bad", world, BAD_MODEL)
    result = calibrate(workspace, bad, HORIZON, output=workdir / "demo-bad.proposed.yml")
    v = result.validation
    lr = plain_lr_out_of_time(
        read_history(workspace.duckdb, bad),
        read_outcomes(workspace.duckdb),
        v.train_dates,
        v.test_dates,
    )
    results["bad_model_calibration"] = {
        "old_auc": str(v.old_auc), "calibrated_auc": str(v.new_auc), "plain_lr_auc": str(lr),
        "weights": {k: round(w, 1) for k, w in result.fits[0].new.items()},
    }  # fmt: skip
    workspace.close()
    shuffled = _permuted(world, seed)
    workspace, model = _demo_workspace(workdir / "demo-random", shuffled, None)
    report = run_backtest(workspace, model, HORIZON, leak_dates=0)
    results["random_outcomes"] = {
        "roc_auc": str(report.roc_auc),
        "contains_half": report.roc_auc.contains(0.5),
    }
    workspace.close()
    return results


def _permuted(world: World, seed: int) -> World:
    """The same world with outcomes (and churn dates) moved to randomly chosen accounts."""
    rng = np.random.default_rng(seed + 1000)
    keys = world.tables["accounts"]["account_id"].to_numpy()
    mapping = dict(zip(keys, rng.permutation(keys), strict=True))
    tables = dict(world.tables)
    outcomes = tables["outcomes"].copy()
    outcomes["account_id"] = outcomes["account_id"].map(mapping)
    accounts = tables["accounts"].copy()
    churned = accounts.set_index("account_id")["churned_at"]
    accounts["churned_at"] = (
        accounts["account_id"]
        .map({mapping[k]: v for k, v in churned.items()})
        .astype("datetime64[ns]")
    )
    tables["outcomes"], tables["accounts"] = outcomes, accounts
    return World(tables, world.start, world.end)


def evaluate_saas(workdir: Path, csv: Path) -> dict[str, Any]:
    """saas_churn: one snapshot; calibrated weights and the LR are both 5-fold cross-validated."""
    folder = workdir / "saas"
    if folder.exists():
        shutil.rmtree(folder)
    workspace = init_workspace(folder)
    info = load_saas_churn(workspace, csv)
    model = workspace.load_model(info.model_path)
    score(workspace, info.snapshot, model)
    until = info.observed_until
    report = run_backtest(workspace, model, info.horizon_days, until=until)
    plain = calibrate(
        workspace, model, info.horizon_days, until=until, output=workdir / "saas.proposed.yml"
    )
    turned = calibrate(workspace, model, info.horizon_days, until=until, reverse=True,
                       output=workdir / "saas-reversed.proposed.yml")  # fmt: skip
    frame = read_churn_csv(csv)
    y = frame["churned"].to_numpy() == 1
    features, numeric, categorical = baseline_features(frame)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    boot = Bootstrap.by_account(np.arange(len(frame)).astype(str), 200, 0)
    lr = _lr_pipeline(numeric, categorical)
    risk = cross_val_predict(lr, features, y, cv=folds, method="predict_proba")[:, 1]
    everything = frame.drop(columns=["months_active", "churned"])
    lr_all = _lr_pipeline(numeric, [*categorical, "us_region"])
    risk_all = cross_val_predict(lr_all, everything, y, cv=folds, method="predict_proba")[:, 1]
    workspace.close()
    return {
        "customers": info.customers,
        "starting_model_auc": str(report.roc_auc),
        "wrong_way_signals": report.signals.loc[
            report.signals["wrong_direction"], "signal"
        ].tolist(),
        "calibrated_cv_auc": str(plain.validation.new_auc),
        "calibrated_reversed_cv_auc": str(turned.validation.new_auc),
        "reversed": turned.reversed_signals,
        "plain_lr_cv_auc": str(auc_estimate(risk, y, boot)),
        "plain_lr_with_region_cv_auc": str(auc_estimate(risk_all, y, boot)),
        "leak_suspected": report.leaks.suspected,
    }


def evaluate_ravenstack(workdir: Path, folder: Path) -> dict[str, Any]:
    """RavenStack: the no-leak control; biweekly snapshots, out-of-time calibration and LR."""
    target = workdir / "ravenstack"
    if target.exists():
        shutil.rmtree(target)
    workspace = init_workspace(target)
    info = load_ravenstack(workspace, folder)
    model = workspace.load_model(info.model_path)
    dates = date_range(info.first_day + dt.timedelta(days=91), info.last_day, 14)
    backfill(workspace, dates, model, show_progress=False)
    report = run_backtest(workspace, model, HORIZON)
    result = calibrate(
        workspace, model, HORIZON, reverse=True, output=workdir / "raven.proposed.yml"
    )
    v = result.validation
    lr = plain_lr_out_of_time(
        read_history(workspace.duckdb, model),
        read_outcomes(workspace.duckdb),
        v.train_dates,
        v.test_dates,
    )
    workspace.close()
    return {
        "accounts": info.accounts,
        "rows": report.counts["evaluated"],
        "churned": report.counts["churned"],
        "roc_auc": str(report.roc_auc),
        "contains_half": report.roc_auc.contains(0.5),
        "calibrated_test_auc": str(v.new_auc),
        "plain_lr_test_auc": str(lr),
        "leak_suspected": report.leaks.suspected,
    }


def main(argv: list[str] | None = None) -> int:
    """Run every evaluation and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--demo-accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vitalsign-evaluate-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name, run in (
        ("demo_world", lambda: evaluate_demo(workdir, args.demo_accounts, args.seed)),
        ("saas_churn", lambda: evaluate_saas(workdir, args.data / "saas_churn" / "churn.csv")),
        ("ravenstack", lambda: evaluate_ravenstack(workdir, args.data / "ravenstack")),
    ):
        started = time.perf_counter()
        results[name] = run()
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"{name}: done in {results[name]['seconds']} s", file=sys.stderr)
    print(markdown(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


def markdown(results: dict[str, Any]) -> str:
    """The figures as the Markdown table of docs/evaluation.md."""
    demo, saas, raven = results["demo_world"], results["saas_churn"], results["ravenstack"]
    start, bad = demo["starter_calibration"], demo["bad_model_calibration"]
    rows = [
        ("demo world: starter model, all snapshots", demo["starter_backtest"]["roc_auc"], "", ""),
        ("demo world: starter model, test period", start["old_auc"], start["calibrated_auc"],
         start["plain_lr_auc"]),
        ("demo world: bad model, test period", bad["old_auc"], bad["calibrated_auc"],
         bad["plain_lr_auc"]),
        ("demo world, outcomes permuted", demo["random_outcomes"]["roc_auc"], "", ""),
        ("saas_churn (5-fold CV)", saas["starting_model_auc"], saas["calibrated_reversed_cv_auc"],
         saas["plain_lr_cv_auc"]),
        ("RavenStack, test period", raven["roc_auc"], raven["calibrated_test_auc"],
         raven["plain_lr_test_auc"]),
    ]  # fmt: skip
    lines = [
        "| data | starting model | calibrated | plain logistic regression |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c or '—'} | {d or '—'} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
