"""The public datasets load into workspaces; saas_churn finds signal, RavenStack finds none."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
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
from vitalsign.engine.run import backfill, date_range, score
from vitalsign.store.workspace import init_workspace

FIXTURES = Path(__file__).parents[1] / "fixtures"
SAAS = FIXTURES / "saas_churn" / "churn.csv"


def test_saas_churn_is_backtested_and_calibrated_close_to_a_plain_regression(
    tmp_path: Path,
) -> None:
    workspace = init_workspace(tmp_path / "saas")
    info = load_saas_churn(workspace, SAAS)
    model = workspace.load_model(info.model_path)
    score(workspace, info.snapshot, model)
    until = info.observed_until
    report = run_backtest(workspace, model, info.horizon_days, replicates=50, until=until)
    assert report.counts["evaluated"] == info.customers == 600
    assert report.roc_auc.low > 0.6
    assert not report.leaks.suspected
    result = calibrate(workspace, model, info.horizon_days, until=until, reverse=True,
                       output=tmp_path / "saas.proposed.yml", replicates=50)  # fmt: skip
    assert result.validation.mode == "cross-validation by account"
    frame = read_churn_csv(SAAS)
    features, numeric, categorical = baseline_features(frame)
    columns = ColumnTransformer(
        [
            ("n", StandardScaler(), numeric),
            ("c", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    lr = make_pipeline(columns, LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    risk = cross_val_predict(lr, features, frame["churned"], cv=folds, method="predict_proba")[:, 1]
    plain = roc_auc_score(frame["churned"], risk)
    assert result.validation.new_auc.value > report.roc_auc.value + 0.05
    assert abs(result.validation.new_auc.value - plain) < 0.05
    workspace.close()


def test_months_active_never_feeds_a_signal(tmp_path: Path) -> None:
    values = []
    for name, months in (("as_is", None), ("shuffled", 1)):
        frame = pd.read_csv(SAAS)
        if months is not None:
            frame["months_active"] = np.random.default_rng(months).permutation(
                frame["months_active"]
            )
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        workspace = init_workspace(tmp_path / name)
        info = load_saas_churn(workspace, path)
        scored = score(workspace, info.snapshot, workspace.load_model(info.model_path))
        values.append(scored.scores.sort_values("account_id")["score"].to_numpy())
        workspace.close()
    assert np.array_equal(values[0], values[1])


def test_ravenstack_is_a_no_leak_control_with_no_signal(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "raven")
    info = load_ravenstack(workspace, FIXTURES / "ravenstack")
    assert info.accounts == 150
    model = workspace.load_model(info.model_path)
    dates = date_range(info.first_day + dt.timedelta(days=91), info.last_day, 28)
    backfill(workspace, dates, model, show_progress=False)
    report = run_backtest(workspace, model, replicates=200, leak_dates=1)
    assert report.counts["churned"] > 50
    assert report.roc_auc.contains(0.5)
    assert not report.leaks.suspected, report.leaks.findings
    workspace.close()


def test_a_folder_that_is_not_ravenstack_is_refused(tmp_path: Path) -> None:
    from vitalsign.errors import IngestError

    with pytest.raises(IngestError, match=r"ravenstack_accounts\.csv"):
        load_ravenstack(init_workspace(tmp_path / "ws"), tmp_path)
