"""Terminal renderings (Rich) of a backtest, a calibration and a model diff."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from vitalsign.analytics.backtest import BacktestReport
from vitalsign.analytics.calibrate import Calibration
from vitalsign.analytics.diff import ModelComparison
from vitalsign.analytics.protocol import OutOfSample, Spread

CHANGED_SHOWN = 15


def _rows(frame: pd.DataFrame) -> list[Any]:
    """The rows of a frame as objects with one attribute per column."""
    return [
        SimpleNamespace(**{str(k): v for k, v in r.items()})
        for r in frame.to_dict(orient="records")
    ]


def _pct(value: Any, digits: int = 1) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}%}"


def _num(value: Any, digits: int = 2) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def band_renderable(bands: pd.DataFrame, title: str) -> Table:
    """Churn per band, by count and by ARR."""
    table = Table(title=title, title_justify="left")
    for column in (
        "band",
        "rows",
        "share",
        "churned",
        "churn rate",
        "lift",
        "ARR churn",
        "ARR lift",
    ):
        table.add_column(column, justify="left" if column == "band" else "right")
    for r in _rows(bands):
        if r.rows == 0:
            continue
        table.add_row(
            str(r.band),
            str(r.rows),
            _pct(r.share),
            str(r.churned),
            _pct(r.churn_rate),
            _num(r.lift),
            _pct(r.arr_churn_rate),
            _num(r.arr_lift),
        )
    return table


def backtest_renderable(report: BacktestReport) -> RenderableType:
    """The backtest summary: AUCs, bands, signals, CSM comparison, leak check."""
    c = report.counts
    head = Table.grid(padding=(0, 2))
    head.add_row("model", f"{report.model_name} ({', '.join(report.model_hashes)})")
    head.add_row("snapshots", f"{len(report.dates)} dates, {report.dates[0]} to {report.dates[-1]}")
    head.add_row(
        "outcomes", f"{report.outcomes_source}; data until {report.observed_until:%Y-%m-%d}"
    )
    head.add_row(
        "rows",
        f"{c['evaluated']} evaluated ({c['accounts']} accounts), {c['churned']} churned within "
        f"{report.horizon_days} days ({_pct(report.base_rate)}); {c['censored']} too recent, "
        f"{c['churned_before']} already churned, {c['insufficient_data']} insufficient data",
    )
    head.add_row(
        "window",
        f"churn in [T, T + {report.horizon_days} days), half-open: a churn exactly "
        f"{report.horizon_days} days after a snapshot counts for a later one",
    )
    head.add_row("ROC-AUC", f"{report.roc_auc}  (pooled; 0.5 is chance; 95% interval by account)")
    if report.folds is not None:
        head.add_row(f"over {report.folds.method}", f"{report.folds.spread}  (mean ± sd, range)")
        head.add_row("sample", Text(report.sample, style="bold" if report.folds.trained else ""))
    head.add_row("PR-AUC", f"{report.pr_auc}  (chance is the churn rate, {_pct(report.base_rate)})")
    head.add_row("bands monotone", "yes" if report.monotone else "NO: a better band churns as much")
    signals = Table(
        title="Signals (AUC of the raw value: above 0.5, churners have higher values)",
        title_justify="left",
    )
    for column in (
        "signal",
        "coverage",
        "raw AUC",
        "churners have",
        "scale rewards",
        "points AUC",
        "",
    ):
        signals.add_column(
            column,
            justify="left"
            if column in ("signal", "churners have", "scale rewards", "")
            else "right",
        )
    for s in _rows(report.signals):
        signals.add_row(
            str(s.signal),
            _pct(s.coverage, 0),
            _num(s.raw_auc, 3),
            str(s.churners_have),
            str(s.scale_rewards),
            _num(s.points_auc, 3),
            "WRONG WAY" if s.wrong_direction else "",
        )
    parts: list[RenderableType] = [head, band_renderable(report.bands, "Churn per band")]
    parts.append(signals)
    if report.csm is not None:
        m = report.csm
        csm = Table(title=f"CSM rating vs band, {m.rows} rows", title_justify="left")
        csm.add_column("csm \\ score")
        for column in m.confusion.columns:
            csm.add_column(str(column), justify="right")
        for rating, row in m.confusion.iterrows():
            csm.add_row(str(rating), *(str(int(v)) for v in row))
        parts.append(csm)
        parts.append(
            Text(
                f"Cohen's kappa {_num(m.kappa, 3)} (linear-weighted {_num(m.weighted_kappa, 3)}); "
                f"AUC: CSM {m.csm_auc}, band {m.band_auc}, score {m.score_auc}; {m.verdict}."
            )
        )
    leak = report.leaks
    if leak.suspected:
        lines = "\n".join(f"  {f.check}: {f.subject}: {f.detail}" for f in leak.findings)
        parts.append(Text(f"LEAK CHECK: future information suspected\n{lines}", style="bold red"))
    else:
        parts.append(
            Text(
                f"Leak check: nothing found (future rows checked on {leak.truncation_accounts} "
                f"accounts at {', '.join(map(str, leak.truncation_dates)) or 'no date'})."
            )
        )
    parts += [Text(f"caution: {f.subject}: {f.detail}") for f in leak.cautions]
    parts += [Text(f"note: {n}") for n in report.notes]
    return Group(*parts)


def _sample_text(cmp: ModelComparison, label_a: str, label_b: str) -> str:
    """After the AUC difference: IN-SAMPLE (with the later dates alone) or unknown, or nothing."""
    s = cmp.sample
    if s.kind == "unknown" and s.calibrated is not None:
        return (
            f"\nsample unknown: {s.calibrated} is a calibrate proposal whose training snapshots "
            "its file does not name; trust calibrate's out-of-sample figures, not these"
        )
    if s.kind != "in-sample" or s.trained is None:
        return ""
    text = (
        f"\nIN-SAMPLE for {s.in_sample_rows} of {cmp.rows} rows: {s.calibrated} was calibrated "
        f"on the snapshots {s.trained[0]} to {s.trained[1]} (its file says so)"
    )
    if cmp.later is not None:
        later = cmp.later
        text += (
            f"; the dates from {later.first} alone: AUC {later.auc_a} → {later.auc_b}, "
            f"{label_b} − {label_a} {later.auc_difference} on {later.rows} rows "
            f"({later.churned} churned)"
        )
    else:
        text += "; no later dates with churners and non-churners to compare alone"
    verdict = s.verdict or "see the proposal's out-of-sample validation in `vitalsign calibrate`"
    return text + f"\ncalibrate's out-of-sample verdict: {verdict}"


def comparison_renderable(
    cmp: ModelComparison, label_a: str = "A", label_b: str = "B", unsupported: bool = False
) -> RenderableType:
    """Two models side by side: AUCs, bands, band moves, accounts that change band.

    `unsupported` marks the band moves as not supported by the AUC change.
    """
    mark = " (unsupported: no AUC improvement)" if unsupported else ""
    head = Table(
        title=f"{label_a}: {cmp.name_a} ({cmp.hash_a})  vs  {label_b}: {cmp.name_b} ({cmp.hash_b})",
        title_justify="left",
    )
    head.add_column("")
    head.add_column(label_a, justify="right")
    head.add_column(label_b, justify="right")
    head.add_row("ROC-AUC", str(cmp.auc_a), str(cmp.auc_b))
    head.add_row("PR-AUC", str(cmp.pr_auc_a), str(cmp.pr_auc_b))
    head.add_row(
        "bands monotone", "yes" if cmp.monotone_a else "no", "yes" if cmp.monotone_b else "no"
    )
    sample = _sample_text(cmp, label_a, label_b)
    diff = Text(
        f"AUC {label_b} − {label_a}: {cmp.auc_difference} on {cmp.rows} rows "
        f"({cmp.churned} churned within {cmp.horizon_days} days){sample}"
    )
    moves = Table(
        title=f"Band moves on {cmp.latest} ({label_a} rows, {label_b} columns){mark}",
        title_justify="left",
    )
    moves.add_column(f"{label_a} \\ {label_b}")
    shown = cmp.moves.loc[cmp.moves.sum(axis=1) > 0, cmp.moves.sum(axis=0) > 0]
    for column in shown.columns:
        moves.add_column(str(column), justify="right")
    for before, row in shown.iterrows():
        moves.add_row(str(before), *(str(int(v)) for v in row))
    changed = Table(
        title=f"{len(cmp.changed)} of {cmp.accounts_latest} accounts change band "
        f"({_pct(cmp.changed_share)}), largest ARR first{mark}",
        title_justify="left",
    )
    scores = (f"score {label_a}", f"score {label_b}")
    for column in ("account", "name", "owner", "ARR", label_a, label_b, *scores):
        changed.add_column(column, justify="right" if column in ("ARR", *scores) else "left")
    for r in _rows(cmp.changed.head(CHANGED_SHOWN)):
        changed.add_row(
            str(r.account_id),
            str(r.name),
            str(r.owner),
            f"{r.arr:,.0f}" if pd.notna(r.arr) else "—",
            str(r.band_a),
            str(r.band_b),
            _num(r.score_a, 1),
            _num(r.score_b, 1),
        )
    return Group(
        head,
        diff,
        band_renderable(cmp.bands_a, f"Churn per band, {label_a}"),
        band_renderable(cmp.bands_b, f"Churn per band, {label_b}"),
        moves,
        changed,
    )


def _alert_volume(result: Calibration) -> str:
    """Precision and recall of the worst band (the alert list), old and new, on the test rows."""
    worst = result.new_bands[-1].name
    parts = []
    for label, bands in (("old", result.comparison.bands_a), ("new", result.comparison.bands_b)):
        rows = bands.set_index("band")
        total = max(int(rows["churned"].sum()), 1)
        band = rows.loc[worst] if worst in rows.index else None
        if band is None or band["rows"] == 0:
            parts.append(f"{label}: empty")
            continue
        parts.append(
            f"{label} holds {_pct(band['share'])} of rows, precision {_pct(band['churn_rate'])}, "
            f"recall {_pct(band['churned'] / total)}"
        )
    return f"Alert list ({worst}) on the test dates: " + "; ".join(parts)


def protocol_renderables(p: OutOfSample) -> list[RenderableType]:
    """How the out-of-sample figures were obtained, per fold and pooled, and the holdout check."""
    folds = Table(title=f"Out of sample ({p.method}): {p.how}", title_justify="left")
    for column in ("fold", "rows", "churned", "old AUC", "new AUC"):
        folds.add_column(column, justify="left" if column == "fold" else "right")
    for f in p.folds:
        folds.add_row(f.fold, str(f.rows), str(f.churned), _num(f.old_auc, 3), _num(f.new_auc, 3))
    folds.add_row("mean ± sd", "", "", _spread(p.old_over_folds), _spread(p.new_over_folds))
    folds.add_row("pooled", "", "", str(p.pooled_old), str(p.pooled_new))
    lines: list[RenderableType] = [
        folds,
        Text(f"pooled on one scale: {p.pooled_scale}; AUC new − old {p.pooled_change}"),
        Text(
            "L2 penalty chosen once by account-grouped cross-validation on the training rows: "
            + ", ".join(f"{card} {value:g}" for card, value in p.penalties.items())
        ),
    ]
    if p.holdout is not None:
        h = p.holdout
        lines.append(
            Text(
                f"held-out accounts ({h.accounts}, {h.share:.0%}, kept out of everything): "
                f"old {h.old_auc} → new {h.new_auc}, change {h.change} on {h.rows} rows "
                f"({h.churned} churned)",
                style="bold",
            )
        )
    lines += [Text(f"note: {n}") for n in p.notes]
    return lines


def _spread(s: Spread) -> str:
    return "n/a" if s.count == 0 else f"{s.mean:.3f} ± {s.sd:.3f}"


def calibration_renderable(result: Calibration) -> RenderableType:
    """The proposal: validation, weights old and new, bands old and new, and the comparison."""
    v = result.validation
    verdict = Text(result.verdict, style="bold" if v.supported else "bold red")
    head = Table.grid(padding=(0, 2))
    head.add_row(
        "proposed model", f"{result.path}: {result.proposed.name} ({result.proposed.hash})"
    )
    head.add_row(
        "validation",
        f"{v.mode}: train {v.train_dates[0]} to {v.train_dates[-1]}, "
        f"test {v.test_dates[0]} to {v.test_dates[-1]}",
    )
    head.add_row("ROC-AUC out of sample", f"old {v.old_auc}  →  new {v.new_auc}  (pooled)")
    head.add_row("bands", result.band_rule)
    head.add_row(
        "thresholds",
        "old "
        + ", ".join(f"{b.name} ≥ {b.min:g}" for b in result.old_bands)
        + "  →  new "
        + ", ".join(f"{b.name} ≥ {b.min:g}" for b in result.new_bands),
    )
    if result.reversed_signals:
        head.add_row("reversed scales", ", ".join(result.reversed_signals))
    parts: list[RenderableType] = [verdict, head]
    if v.protocol is not None:
        parts += protocol_renderables(v.protocol)
    stable = {(s.scorecard, s.signal): s for s in v.protocol.stability} if v.protocol else {}
    for fit in result.fits:
        table = Table(
            title=f"Scorecard {fit.scorecard}: {fit.rows} training rows, {fit.churned} churned"
            + ("" if fit.refitted else " (kept)"),
            title_justify="left",
        )
        for column in ("signal", "old weight", "new weight", "over fits", "points AUC", "flags"):
            table.add_column(column, justify="left" if column in ("signal", "flags") else "right")
        for name in sorted(set(fit.old) | set(fit.new), key=lambda s: -fit.new.get(s, 0.0)):
            found = stable.get((fit.scorecard, name))
            over = found.spread if found is not None else None
            table.add_row(
                name,
                _pct(fit.old.get(name, 0.0) / 100),
                _pct(fit.new.get(name, 0.0) / 100),
                f"{over.low:.0f}–{over.high:.0f}%" if over is not None and over.count else "—",
                _num(found.points_auc.value, 3) if found is not None else "—",
                Text("; ".join(found.flags), style="yellow") if found and found.flags else "",
            )
        parts.append(table)
    parts.append(Text(_alert_volume(result)))
    if not v.supported:
        c = result.comparison
        parts.append(
            Text(
                f"unsupported band moves: {len(c.changed)} of {c.accounts_latest} accounts "
                f"({_pct(c.changed_share)}) would change band, but the data does not show the "
                "proposal ranks churn better; do not deploy it on this evidence",
                style="red",
            )
        )
    parts.append(Text(f"Old and new side by side, {result.comparison_sample}:", style="bold"))
    parts.append(comparison_renderable(result.comparison, "old", "new", not v.supported))
    parts += [Text(f"note: {n}") for n in result.notes]
    return Group(*parts)
