"""Evaluate backtests and calibration on the demo world, saas_churn and RavenStack.

For each dataset: the starting model's backtest (ROC-AUC with an account-bootstrap 95%
interval) and, on the same held-out rows (the test dates, or the same five account folds when
there is one snapshot date), the starting model, calibrate with weights only, calibrate with
--learn-scales, a plain logistic regression and gradient boosting (scikit-learn
HistGradientBoostingClassifier) on the same inputs. The goal of the calibrated score is 0.97
times the better of the two unconstrained models. Also a single export (the demo world's
accounts at one date, attributes only) and the demo world with randomly permuted outcomes (its
interval must contain 0.5). The figures are recorded in docs/evaluation.md.

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
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from vitalsign.analytics.backtest import run_backtest
from vitalsign.analytics.calibrate import Calibration, calibrate
from vitalsign.analytics.datasets.ravenstack import load_ravenstack
from vitalsign.analytics.datasets.saas_churn import load_saas_churn
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.metrics import Bootstrap, Estimate, auc_estimate
from vitalsign.analytics.outcomes import LABELLED, Outcomes, label_snapshots, read_outcomes
from vitalsign.analytics.protocol import FOLDS
from vitalsign.demo.world import World, generate_world, write_world
from vitalsign.engine.run import backfill, date_range, score
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace, init_workspace

ROOT = Path(__file__).resolve().parents[1]
BAD_MODEL = ROOT / "tests" / "fixtures" / "models" / "demo_bad.yml"
HORIZON = 90
GOAL = 0.97  # the calibrated score's AUC against the better unconstrained model's
SINGLE_EXPORT_DAY = dt.date(2024, 9, 1)  # the demo world's accounts as exported on one day
SINGLE_EXPORT_HORIZON = 365  # churn within a year of the export (90 days: too few churners)
ATTRIBUTES_MODEL = """\
# The demo world as a single CRM export: account attributes at one date, nothing else
# (not lifecycle_stage: the demo's accounts row says "churned" for a churned account today).
name: demo_attributes
signals:
  seats: {attribute: seats, scale: {type: linear, low: 5, high: 200}}
  arr: {attribute: arr, scale: {type: linear, low: 5000, high: 150000}}
  tenure: {attribute: tenure_days, scale: {type: linear, low: 0, high: 730}}
  days_to_renewal: {attribute: days_to_renewal, scale: {type: linear, low: 30, high: 180}}
  plan:
    attribute: plan
    scale:
      type: categorical
      map: {enterprise: 100, business: 80, growth: 60, starter: 30}
      default: 50
  segment:
    attribute: segment
    scale: {type: categorical, map: {enterprise: 100, mid-market: 60, smb: 30}, default: 50}
  industry:
    attribute: industry
    scale: {type: categorical, map: {software: 60, fintech: 60}, default: 50}
scorecards:
  default:
    account:
      signals: {seats: 1, arr: 1, tenure: 1, days_to_renewal: 1, plan: 1, segment: 1,
                industry: 1}
bands:
  - {name: green, min: 70}
  - {name: yellow, min: 40}
  - {name: red, min: 0}
"""


def _plain_lr() -> Any:
    return LogisticRegression(max_iter=5000)


def _signal_frame(history: History) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The model's signals as inputs: raw numbers, and text for categorical signals."""
    raw, text = history.wide("raw_value"), history.wide("raw_text")
    numeric = [s for s in raw.columns if raw[s].notna().any()]
    categorical = [s for s in text.columns if s not in numeric and text[s].notna().any()]
    frame = pd.concat([raw[numeric], text[categorical].astype(object)], axis=1)
    frame[categorical] = frame[categorical].fillna("missing")
    return frame, numeric, categorical


def _lr_pipeline(numeric: list[str], categorical: list[str]) -> Any:
    numbers = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    columns = ColumnTransformer(
        [("n", numbers, numeric), ("c", OneHotEncoder(handle_unknown="ignore"), categorical)]
    )
    return make_pipeline(columns, _plain_lr())


def _gb_pipeline(numeric: list[str], categorical: list[str]) -> Any:
    """Gradient boosting: raw numbers (missing stays missing), categories as categories."""
    codes = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    columns = ColumnTransformer([("n", "passthrough", numeric), ("c", codes, categorical)])
    where = list(range(len(numeric), len(numeric) + len(categorical)))
    boosting = HistGradientBoostingClassifier(categorical_features=where or None, random_state=0)
    return make_pipeline(columns, boosting)


UNCONSTRAINED = {"logistic": _lr_pipeline, "boosting": _gb_pipeline}


def _usable(history: History, outcomes: Outcomes, horizon: int) -> tuple[pd.DataFrame, Any]:
    """The labelled rows (aligned with the history) and which of them calibrate uses."""
    labelled = label_snapshots(history.scores, outcomes, horizon)
    scored = labelled["score"].notna() & (
        labelled["computed_band"] != history.model.spec.insufficient_band
    )
    return labelled, ((labelled["status"] == LABELLED) & scored).to_numpy()


def unconstrained_out_of_time(
    history: History, outcomes: Outcomes, train_dates: list[dt.date], test_dates: list[dt.date]
) -> dict[str, Estimate]:
    """Logistic regression and boosting on the signals' raw values, split like calibrate."""
    labelled, usable = _usable(history, outcomes, HORIZON)
    day = labelled["as_of"].dt.date
    train = usable & day.isin(set(train_dates)).to_numpy()
    test = usable & day.isin(set(test_dates)).to_numpy()
    frame, numeric, categorical = _signal_frame(history)
    y = labelled["churned"].to_numpy(dtype=bool)
    boot = Bootstrap.by_account(labelled["account_id"].to_numpy()[test], 200, 0)
    out = {}
    for name, pipeline in UNCONSTRAINED.items():
        model = pipeline(numeric, categorical).fit(frame[train], y[train])
        out[name] = auc_estimate(model.predict_proba(frame[test])[:, 1], y[test], boot)
    return out


def unconstrained_account_folds(
    history: History, outcomes: Outcomes, horizon: int, seed: int = 0
) -> dict[str, Estimate]:
    """The same, cross-validated on calibrate's five account folds (one snapshot date)."""
    labelled, usable = _usable(history, outcomes, horizon)
    accounts = labelled["account_id"].astype(str).to_numpy()
    keys = sorted(set(accounts))  # the folds of protocol.account_folds: same accounts out
    count = min(FOLDS, len(keys))
    order = np.random.default_rng(seed).permutation(len(keys))
    fold_of = {a: int(order[i] % count) for i, a in enumerate(keys)}
    fold = np.array([fold_of[a] for a in accounts])
    frame, numeric, categorical = _signal_frame(history)
    y = labelled["churned"].to_numpy(dtype=bool)
    boot = Bootstrap.by_account(accounts[usable], 200, seed)
    out = {}
    for name, pipeline in UNCONSTRAINED.items():
        risk = np.full(len(y), np.nan)
        for k in range(count):
            train, test = usable & (fold != k), usable & (fold == k)
            model = pipeline(numeric, categorical).fit(frame[train], y[train])
            risk[test] = model.predict_proba(frame[test])[:, 1]
        out[name] = auc_estimate(risk[usable], y[usable], boot)
    return out


def comparison(
    weights: Calibration, learned: Calibration, unconstrained: dict[str, Estimate]
) -> dict[str, Any]:
    """One row of the table: every AUC on the same held-out rows, and the goal."""
    best = max(e.value for e in unconstrained.values())
    row: dict[str, Any] = {
        "validated_by": weights.validation.mode,
        "starting_model": str(weights.validation.old_auc),
        "weights_only": str(weights.validation.new_auc),
        "learned_scales": str(learned.validation.new_auc),
        "learned_minus_weights": round(
            learned.validation.new_auc.value - weights.validation.new_auc.value, 4
        ),
        "learned": [s.signal for s in learned.learned_scales],
        "logistic_regression": str(unconstrained["logistic"]),
        "gradient_boosting": str(unconstrained["boosting"]),
        "goal": round(GOAL * best, 4),
    }
    for key, result in (("weights_only", weights), ("learned_scales", learned)):
        ratio = result.validation.new_auc.value / best
        row[f"{key}_ratio"] = round(ratio, 4)
        row[f"{key}_meets_goal"] = bool(ratio >= GOAL)
    return row


def _both(
    workspace: Workspace, model: LoadedModel, out: Path, **options: Any
) -> tuple[Calibration, Calibration]:
    """calibrate with weights only, then with --learn-scales (same options otherwise)."""
    weights = calibrate(workspace, model, output=out.with_suffix(".weights.yml"), **options)
    learned = calibrate(
        workspace, model, output=out.with_suffix(".learned.yml"), learn_scales=True, **options
    )
    return weights, learned


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
    for key, path in (("starter_calibration", None), ("bad_model_calibration", BAD_MODEL)):
        if path is not None:
            workspace.close()
            workspace, model = _demo_workspace(workdir / "demo-bad", world, path)
        weights, learned = _both(workspace, model, workdir / f"demo-{key}", horizon_days=HORIZON)
        v = weights.validation
        other = unconstrained_out_of_time(
            read_history(workspace.duckdb, model), read_outcomes(workspace.duckdb),
            v.train_dates, v.test_dates,
        )  # fmt: skip
        results[key] = {
            "test": f"{v.test_dates[0]} to {v.test_dates[-1]}",
            **comparison(weights, learned, other),
            "weights": {k: round(w, 1) for k, w in weights.fits[0].new.items()},
            "learned_weights": {k: round(w, 1) for k, w in learned.fits[0].new.items()},
        }
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


def evaluate_single_export(workdir: Path, accounts: int, seed: int) -> dict[str, Any]:
    """The demo world as one CRM export: its accounts' attributes on one day, nothing else."""
    world = generate_world(accounts=accounts, seed=seed)
    folder = workdir / "demo-export"
    if folder.exists():
        shutil.rmtree(folder)
    workspace = init_workspace(folder)
    write_world(world, workspace.duckdb)
    path = folder / "models" / "attributes.yml"
    path.write_text(ATTRIBUTES_MODEL, encoding="utf-8")
    model = workspace.load_model(path)
    score(workspace, SINGLE_EXPORT_DAY, model)
    horizon = SINGLE_EXPORT_HORIZON
    report = run_backtest(workspace, model, horizon)
    weights, learned = _both(
        workspace, model, workdir / "demo-export", horizon_days=horizon, reverse=True
    )
    other = unconstrained_account_folds(
        read_history(workspace.duckdb, model), read_outcomes(workspace.duckdb), horizon
    )
    workspace.close()
    return {
        "day": SINGLE_EXPORT_DAY.isoformat(),
        "horizon_days": horizon,
        "rows": report.counts["evaluated"],
        "churned": report.counts["churned"],
        "backtest_auc": str(report.roc_auc),
        **comparison(weights, learned, other),
        "leak_suspected": report.leaks.suspected,
    }


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
    """saas_churn: one snapshot; every model cross-validated on the same five account folds."""
    folder = workdir / "saas"
    if folder.exists():
        shutil.rmtree(folder)
    workspace = init_workspace(folder)
    info = load_saas_churn(workspace, csv)
    model = workspace.load_model(info.model_path)
    score(workspace, info.snapshot, model)
    until = info.observed_until
    report = run_backtest(workspace, model, info.horizon_days, until=until)
    weights, learned = _both(
        workspace, model, workdir / "saas", horizon_days=info.horizon_days, until=until,
        reverse=True,
    )  # fmt: skip
    other = unconstrained_account_folds(
        read_history(workspace.duckdb, model), read_outcomes(workspace.duckdb, until),
        info.horizon_days,
    )  # fmt: skip
    workspace.close()
    return {
        "customers": info.customers,
        "backtest_auc": str(report.roc_auc),
        "wrong_way_signals": report.signals.loc[
            report.signals["wrong_direction"], "signal"
        ].tolist(),
        "reversed": weights.reversed_signals,
        **comparison(weights, learned, other),
        "leak_suspected": report.leaks.suspected,
    }


def evaluate_ravenstack(workdir: Path, folder: Path) -> dict[str, Any]:
    """RavenStack: the no-leak control; biweekly snapshots, out-of-time calibration and models."""
    target = workdir / "ravenstack"
    if target.exists():
        shutil.rmtree(target)
    workspace = init_workspace(target)
    info = load_ravenstack(workspace, folder)
    model = workspace.load_model(info.model_path)
    dates = date_range(info.first_day + dt.timedelta(days=91), info.last_day, 14)
    backfill(workspace, dates, model, show_progress=False)
    report = run_backtest(workspace, model, HORIZON)
    weights, learned = _both(
        workspace, model, workdir / "raven", horizon_days=HORIZON, reverse=True
    )
    v = weights.validation
    other = unconstrained_out_of_time(
        read_history(workspace.duckdb, model), read_outcomes(workspace.duckdb),
        v.train_dates, v.test_dates,
    )  # fmt: skip
    workspace.close()
    return {
        "accounts": info.accounts,
        "rows": report.counts["evaluated"],
        "churned": report.counts["churned"],
        "roc_auc": str(report.roc_auc),
        "contains_half": report.roc_auc.contains(0.5),
        **comparison(weights, learned, other),
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
    parser.add_argument(
        "--only", nargs="+", default=None,
        choices=["demo_world", "single_export", "saas_churn", "ravenstack"],
        help="Run only these data sets (the table needs all four).",
    )  # fmt: skip
    parser.add_argument(
        "--table", nargs="+", type=Path, default=None,
        help="Print the table from these --json files of earlier runs (merged) and stop.",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.table:
        merged: dict[str, Any] = {}
        for path in args.table:
            merged.update(json.loads(path.read_text(encoding="utf-8")))
        print(markdown(merged))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vitalsign-evaluate-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name, run in (
        ("demo_world", lambda: evaluate_demo(workdir, args.demo_accounts, args.seed)),
        ("single_export", lambda: evaluate_single_export(workdir, args.demo_accounts, args.seed)),
        ("saas_churn", lambda: evaluate_saas(workdir, args.data / "saas_churn" / "churn.csv")),
        ("ravenstack", lambda: evaluate_ravenstack(workdir, args.data / "ravenstack")),
    ):
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        results[name] = run()
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"{name}: done in {results[name]['seconds']} s", file=sys.stderr)
        if args.json is not None:  # after each data set: a later failure loses nothing
            text = json.dumps(results, indent=2, default=str) + "\n"
            args.json.write_text(text, encoding="utf-8")
    if len(results) == 4:
        print(markdown(results))
    return 0


def _goal(row: dict[str, Any]) -> str:
    """Whether the calibrated score reaches GOAL × the better unconstrained model."""
    if float(row["goal"]) < GOAL * 0.6:  # nothing to find (AUC near 0.5): a ratio means nothing
        return "n/a (no signal)"
    parts = []
    for key, label in (("weights_only", "weights"), ("learned_scales", "learned")):
        mark = "yes" if row[f"{key}_meets_goal"] else "no"
        parts.append(f"{label} {row[f'{key}_ratio']:.3f} {mark}")
    return "; ".join(parts)


def markdown(results: dict[str, Any]) -> str:
    """The figures as the Markdown tables of docs/evaluation.md."""
    demo, saas, raven = results["demo_world"], results["saas_churn"], results["ravenstack"]
    compared = [
        ("demo world: starter model, test period", demo["starter_calibration"]),
        ("demo world: bad model, test period", demo["bad_model_calibration"]),
        ("demo world, single export: attributes on one day, churn within a year (5 account folds)",
         results["single_export"]),
        ("saas_churn, single export (5 account folds)", saas),
        ("RavenStack, test period", raven),
    ]  # fmt: skip
    lines = [
        "| data | starting model | calibrated: weights only | calibrated: learned scales | "
        "logistic regression | gradient boosting | ≥ 0.97 × the better of the two? |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in compared:
        lines.append(
            f"| {name} | {row['starting_model']} | {row['weights_only']} | "
            f"{row['learned_scales']} | {row['logistic_regression']} | "
            f"{row['gradient_boosting']} | {_goal(row)} |"
        )
    lines += [
        "",
        "| backtest only | ROC-AUC |",
        "| --- | --- |",
        f"| demo world: starter model, all snapshots | {demo['starter_backtest']['roc_auc']} |",
        f"| demo world, outcomes permuted | {demo['random_outcomes']['roc_auc']} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
