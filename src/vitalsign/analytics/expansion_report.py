"""Run the expansion (or contraction) backtest on a workspace, and render its report.

The shell `vitalsign backtest --outcome expanded` calls; `run_growth_backtest` is the Python
API a notebook user calls. docs/backtest.md#expansion-and-contraction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import pandas as pd
from rich.console import Group as Stack
from rich.console import RenderableType
from rich.table import Table

from vitalsign.analytics.expansion import DEFAULT_MIN_CHANGE, GrowthReport, evaluate_growth
from vitalsign.analytics.history import History, read_history
from vitalsign.analytics.outcomes import read_outcomes
from vitalsign.analytics.progress import Step, no_progress
from vitalsign.model.loader import LoadedModel
from vitalsign.store.expansion import read_expansion_history
from vitalsign.store.workspace import Workspace


def run_growth_backtest(
    workspace: Workspace,
    model: LoadedModel | None = None,
    outcome: str = "expanded",
    horizon_days: int = 90,
    min_change: float = DEFAULT_MIN_CHANGE,
    score_kind: str | None = None,
    replicates: int = 200,
    seed: int = 0,
    until: dt.datetime | None = None,
    dates: Sequence[dt.date] | None = None,
    history: History | None = None,
    expansion: pd.DataFrame | None = None,
    progress: Step = no_progress,
) -> GrowthReport:
    """Backtest the stored history of `model` against expansions (or contractions).

    `history` and `expansion` are scores recomputed in memory (`--rescore`); by default the
    stored snapshots and their expansion scores are read.

    >>> print(run_growth_backtest(open_workspace("acme")).roc_auc)  # doctest: +SKIP
    0.907 [0.894, 0.917]
    """
    model = model or workspace.load_model()
    if history is None:
        progress("reading the score history")
        history = read_history(workspace.duckdb, model, dates)
        names = list(model.spec.expansion.signals) if model.spec.expansion else []
        expansion = read_expansion_history(
            workspace.duckdb, model.name, None if dates is None else list(dates), names
        )
    progress("reading the outcomes")
    outcomes = read_outcomes(workspace.duckdb, until)
    progress(f"{outcome} against the score ({replicates} bootstrap replicates)")
    return evaluate_growth(
        history,
        outcomes,
        expansion,
        outcome,
        horizon_days,
        min_change,
        score_kind,
        replicates,
        seed,
    )


def _pct(value: object) -> str:
    number = float(str(value))
    return "—" if math.isnan(number) else f"{number:.1%}"


def growth_renderable(report: GrowthReport) -> RenderableType:
    """The expansion (or contraction) backtest summary for the terminal."""
    c = report.counts
    moved = "grew" if report.outcome == "expanded" else "shrank"
    sign = "+" if report.outcome == "expanded" else "−"
    head = Table.grid(padding=(0, 2))
    head.add_row("model", report.model_name)
    head.add_row("snapshots", f"{len(report.dates)} dates, {report.dates[0]} to {report.dates[-1]}")
    head.add_row(
        "outcomes", f"{report.outcomes_source}; data until {report.observed_until:%Y-%m-%d}"
    )
    head.add_row(
        "rows",
        f"{c['evaluated']} evaluated ({c['accounts']} accounts), {c['positives']} {report.outcome}"
        f" within {report.horizon_days} days ({_pct(report.base_rate)}); {c['censored']} too "
        f"recent, {c['churned_before']} already churned, {c['unscored']} without a score",
    )
    head.add_row(
        "outcome",
        f"{'an' if report.outcome == 'expanded' else 'a'} {report.outcome} row whose ARR "
        f"{moved} by {sign}{report.min_change:.0%} or more "
        f"(--min-change) in [T, T + {report.horizon_days} days), half-open",
    )
    direction = (
        "higher score = more likely to grow"
        if report.outcome == "expanded"
        else "lower score = more likely to shrink"
    )
    head.add_row("score tested", f"{report.score_kind} ({direction})")
    head.add_row("ROC-AUC", f"{report.roc_auc}  (0.5 is chance; 95% interval by account)")
    head.add_row("PR-AUC", f"{report.pr_auc}  (chance is the rate, {_pct(report.base_rate)})")
    if report.other_kind is not None and report.other_auc is not None:
        head.add_row(f"{report.other_kind} score", f"ROC-AUC {report.other_auc} on the same rows")
    table = Table(
        title=f"{report.outcome.capitalize()} by fifth of the score", title_justify="left"
    )
    for column in ("fifth", "score range", "rows", report.outcome, "rate", "lift"):
        table.add_column(column, justify="right")
    for row in report.quintiles.itertuples():
        table.add_row(
            "likeliest" if row.quintile == 1 else str(row.quintile),
            f"{row.low:.0f}–{row.high:.0f}",
            f"{row.rows:,}",
            f"{row.positives:,}",
            _pct(row.rate),
            f"{row.lift:.2f}×",
        )
    signals = Table(
        title=f"Signals: each one's points against {report.outcome} (AUC above 0.5: as its score "
        "means them)",
        title_justify="left",
    )
    for column in ("signal", "score", "coverage", "points AUC"):
        signals.add_column(column, justify="left" if column in ("signal", "score") else "right")
    for row in report.signals.itertuples():
        signals.add_row(str(row.signal), str(row.score), _pct(row.coverage), f"{row.auc:.3f}")
    notes = [f"note: {n}" for n in report.notes]
    return Stack(head, table, signals, *notes)


def growth_command(
    workspace: Workspace,
    model: LoadedModel,
    outcome: str,
    horizon_days: int,
    min_change: float,
    score_kind: str | None,
    replicates: int,
    seed: int,
    until: dt.datetime | None,
    dates: Sequence[dt.date] | None,
    rescore: Sequence[dt.date] | None,
    as_json: bool,
) -> None:
    """`vitalsign backtest --outcome expanded|contracted`: run, then print text or JSON."""
    import json

    import typer

    from vitalsign.analytics.history import history_from_scored
    from vitalsign.analytics.progress import progress_steps
    from vitalsign.engine.backends import connect_engine
    from vitalsign.engine.run import compute_scores

    with progress_steps(f"Backtest ({outcome})", 4, show=not as_json) as step:
        history, expansion = None, None
        if rescore is not None:
            step(f"re-scoring {len(rescore)} dates under {model.name}")
            scored = compute_scores(connect_engine(workspace), model, list(rescore))
            history = history_from_scored(scored, model)
            if scored.expansion is not None:
                expansion = scored.expansion.rename(columns={"score": "expansion_score"})
        report = run_growth_backtest(
            workspace, model, outcome, horizon_days, min_change, score_kind, replicates, seed,
            until, dates, history, expansion, step,
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    from rich.console import Console

    Console().print(growth_renderable(report))
