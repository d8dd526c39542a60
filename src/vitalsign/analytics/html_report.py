"""The backtest as one self-contained HTML file: Plotly charts with plotly.js embedded inline.

Nothing is loaded from the network when the file is opened, so it reads offline and can be
mailed or attached to a ticket as is.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, select_autoescape
from plotly.offline import get_plotlyjs

from vitalsign.analytics.backtest import BacktestReport
from vitalsign.store.output_paths import write_output
from vitalsign.store.workspace import Workspace

GREEN, YELLOW, RED, GREY = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e"

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>vitalsign backtest: {{ r.model_name }}</title>
<script type="text/javascript">{{ plotly_js | safe }}</script>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.big { font-size: 1.3em; } .bad { color: #c62828; font-weight: bold; } .ok { color: #2e7d32; }
.note { color: #555; }
</style></head><body>
<h1>Backtest of model {{ r.model_name }}</h1>
<p class="note">Model version{{ 's' if r.model_hashes|length > 1 }} {{ r.model_hashes|join(', ') }};
{{ r.dates|length }} snapshots from {{ r.dates[0] }} to {{ r.dates[-1] }} ({{ r.history_source }});
outcomes {{ r.outcomes_source }}, data until {{ r.observed_until.strftime('%Y-%m-%d') }};
horizon {{ r.horizon_days }} days: churn in [T, T + {{ r.horizon_days }} days), a churn exactly
{{ r.horizon_days }} days after a snapshot counts for a later one.</p>
<p class="big">ROC-AUC <b>{{ r.roc_auc }}</b> &nbsp; PR-AUC <b>{{ r.pr_auc }}</b>
(churn rate {{ pct(r.base_rate) }})</p>
{% if r.folds %}<p{% if r.folds.trained %} class="bad"{% endif %}>Pooled over every evaluated row;
over {{ r.folds.method }}: {{ r.folds.spread }} (mean ± sd, range). {{ r.sample }}.</p>{% endif %}
<p>{{ c.evaluated }} account-snapshots evaluated ({{ c.accounts }} accounts), {{ c.churned }}
churned within {{ r.horizon_days }} days. Left out: {{ c.censored }} too recent to know,
{{ c.churned_before }} already churned, {{ c.insufficient_data }} with insufficient data.
Intervals are 95% bootstrap intervals that resample accounts.</p>
{% if r.leaks.suspected %}<p class="bad">Leak check: future information suspected.</p>
<ul>{% for f in r.leaks.findings %}
<li><b>{{ f.check }}</b>: {{ f.subject }}: {{ f.detail }}</li>{% endfor %}</ul>
{% else %}<p class="ok">Leak check: nothing found.</p>{% endif %}
{% for f in r.leaks.cautions %}<p class="note">Caution: {{ f.subject }}: {{ f.detail }}</p>
{% endfor %}
{% for n in r.notes %}<p class="note">Note: {{ n }}</p>{% endfor %}
<h2>Ranking</h2>{{ charts.curves | safe }}
<h2>Bands</h2>
<p>Bands are {% if r.monotone -%}
<span class="ok">monotone</span>: each worse band churns more.
{%- else -%}
<span class="bad">not monotone</span>: a better band churns as much as a worse one.
{%- endif %}</p>
{{ tables.bands | safe }}{{ charts.bands | safe }}
<h2>Survival per band (Kaplan–Meier)</h2>
<p class="note">Each account-snapshot starts a clock; it stops at churn or at the end of the
data.</p>
{{ tables.survival | safe }}{{ charts.survival | safe }}
<h2>Over time</h2>{{ charts.by_date | safe }}
<h2>Signals</h2>
<p class="note">Raw AUC above 0.5: churners have higher values. Points AUC above 0.5: the signal's
points warn of churn, as they should. "wrong way": the scale rewards the side churners are on.</p>
{{ tables.signals | safe }}{{ charts.signals | safe }}
{% if r.csm %}<h2>CSM gut versus the score</h2>
<p>{{ r.csm.rows }} account-snapshots with a CSM rating. Cohen's kappa {{ num(r.csm.kappa) }}
(linear-weighted {{ num(r.csm.weighted_kappa) }}). AUC: CSM {{ r.csm.csm_auc }}, band
{{ r.csm.band_auc }}, score {{ r.csm.score_auc }}; score − CSM {{ r.csm.score_minus_csm }}:
<b>{{ r.csm.verdict }}</b>.</p>{{ charts.csm | safe }}{{ tables.csm | safe }}{% endif %}
<h2>Leak check details</h2>
<p class="note">Future rows checked on {{ r.leaks.truncation_accounts }} accounts at
{{ r.leaks.truncation_dates|join(', ') or 'no date' }}. AUC of the score before gate and flags
with each signal left out:</p>{{ tables.drop_one | safe }}
</body></html>
"""


def _pct(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.1%}"


def _num(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.3f}"


def band_colours(names: list[str], insufficient: str) -> dict[str, str]:
    """Green for the best band, red for the worst, yellow between, grey for insufficient data."""
    last = len(names) - 1
    colours = {n: GREEN if i == 0 else RED if i == last else YELLOW for i, n in enumerate(names)}
    colours[insufficient] = GREY
    return colours


def _html(figure: go.Figure) -> str:
    figure.update_layout(template="plotly_white", margin={"l": 50, "r": 20, "t": 50, "b": 40})
    html: str = figure.to_html(full_html=False, include_plotlyjs=False)
    return html


def _table(frame: pd.DataFrame, formats: dict[str, Any]) -> str:
    shown = frame.copy()
    for column, format_ in formats.items():
        if column in shown:
            shown[column] = shown[column].map(format_)
    html: str = shown.to_html(index=False, border=0, na_rep="—", escape=True)
    return html


def _interval(value: float, low: float, high: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    if math.isnan(low):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _signal_rows(signals: pd.DataFrame) -> pd.DataFrame:
    """The signal table for people: AUCs with their intervals in one cell."""
    rows = signals.to_dict(orient="records")
    return pd.DataFrame(
        {
            "signal": [r["signal"] for r in rows],
            "coverage": [_pct(r["coverage"]) for r in rows],
            "mean weight": [_pct(r["mean_weight"]) for r in rows],
            "raw AUC": [_interval(r["raw_auc"], r["raw_auc_low"], r["raw_auc_high"]) for r in rows],
            "churners have": [r["churners_have"] for r in rows],
            "scale rewards": [r["scale_rewards"] for r in rows],
            "points AUC": [
                _interval(r["points_auc"], r["points_auc_low"], r["points_auc_high"]) for r in rows
            ],
            "": ["wrong way" if r["wrong_direction"] else "" for r in rows],
        }
    )


def _charts(r: BacktestReport, colours: dict[str, str]) -> dict[str, str]:
    curves = go.Figure()
    curves.add_trace(
        go.Scatter(x=r.roc["fpr"], y=r.roc["tpr"], name=f"ROC (AUC {r.roc_auc.value:.3f})")
    )
    curves.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], name="chance", line={"dash": "dot", "color": GREY})
    )
    curves.add_trace(
        go.Scatter(
            x=r.pr["recall"],
            y=r.pr["precision"],
            name=f"precision–recall (AP {r.pr_auc.value:.3f})",
        )
    )
    curves.update_layout(
        title="ROC and precision–recall",
        xaxis_title="false-positive rate / recall",
        yaxis_title="true-positive rate / precision",
    )
    shown = r.bands[r.bands["rows"] > 0]
    bands = go.Figure()
    bands.add_trace(
        go.Bar(
            x=shown["band"],
            y=shown["churn_rate"],
            name="by accounts",
            marker_color=[colours.get(b, GREY) for b in shown["band"]],
        )
    )
    bands.add_trace(
        go.Bar(x=shown["band"], y=shown["arr_churn_rate"], name="by ARR", marker_color=GREY)
    )
    bands.update_layout(
        title=f"Churn within {r.horizon_days} days per band",
        yaxis_tickformat=".0%",
        barmode="group",
    )
    survival = go.Figure()
    for band, part in r.survival.curves.groupby("band", sort=False):
        colour = colours.get(str(band), GREY)
        survival.add_trace(
            go.Scatter(
                x=part["days"],
                y=part["survival"],
                name=str(band),
                line={"color": colour, "shape": "hv"},
            )
        )
        survival.add_trace(
            go.Scatter(
                x=pd.concat([part["days"], part["days"][::-1]]),
                y=pd.concat([part["high"], part["low"][::-1]]),
                fill="toself",
                line={"width": 0},
                fillcolor=colour,
                opacity=0.15,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    survival.update_layout(
        title="Share of accounts not churned, by days after the snapshot",
        xaxis_title="days",
        yaxis_tickformat=".0%",
    )
    by_date = go.Figure()
    by_date.add_trace(go.Scatter(x=r.by_date["as_of"], y=r.by_date["auc"], name="ROC-AUC"))
    by_date.add_trace(
        go.Scatter(x=r.by_date["as_of"], y=r.by_date["churn_rate"], name="churn rate", yaxis="y2")
    )
    by_date.update_layout(
        title="AUC and churn rate per snapshot date",
        yaxis={"title": "AUC"},
        yaxis2={"title": "churn rate", "overlaying": "y", "side": "right", "tickformat": ".0%"},
    )
    s = r.signals.sort_values("points_auc")
    signals = go.Figure(
        go.Bar(
            y=s["signal"],
            x=s["points_auc"] - 0.5,
            base=0.5,
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": s["points_auc_high"] - s["points_auc"],
                "arrayminus": s["points_auc"] - s["points_auc_low"],
            },
            marker_color=[RED if w else GREEN for w in s["wrong_direction"]],
        )
    )
    signals.update_layout(
        title="Each signal's points AUC on its own (0.5 is chance)",
        xaxis_range=[0, 1],
        height=max(300, 28 * len(s) + 120),
    )
    charts = {
        "curves": _html(curves),
        "bands": _html(bands),
        "survival": _html(survival),
        "by_date": _html(by_date),
        "signals": _html(signals),
        "csm": "",
    }
    if r.csm is not None:
        heat = go.Figure(
            go.Heatmap(
                z=r.csm.confusion.to_numpy(),
                x=list(r.csm.confusion.columns),
                y=list(r.csm.confusion.index),
                colorscale="Blues",
                text=r.csm.confusion.to_numpy(),
                texttemplate="%{text}",
            )
        )
        heat.update_layout(
            title="CSM rating (rows) versus score band (columns)",
            height=380,
            yaxis={"autorange": "reversed"},
        )
        charts["csm"] = _html(heat)
    return charts


def render_html(report: BacktestReport) -> str:
    """Return the backtest report as one self-contained HTML page."""
    colours = band_colours(report.band_names, report.bands["band"].iloc[-1])
    pct = {
        c: _pct
        for c in (
            "share",
            "churn_rate",
            "arr_churn_rate",
            "coverage",
            "survival",
            "csm_churn_rate",
            "band_churn_rate",
        )
    }
    nums = {
        c: _num
        for c in (
            "lift",
            "arr_lift",
            "raw_auc",
            "raw_auc_low",
            "raw_auc_high",
            "points_auc",
            "points_auc_low",
            "points_auc_high",
            "mean_weight",
            "auc_without",
            "jump",
        )
    }
    money = {c: (lambda v: f"{v:,.0f}") for c in ("arr", "churned_arr")}
    formats = {**pct, **nums, **money, "median_days": lambda v: "—" if pd.isna(v) else f"{v:.0f}"}
    tables = {
        "bands": _table(report.bands[report.bands["rows"] > 0], formats),
        "survival": _table(
            report.survival.at_horizon.assign(
                survival=report.survival.at_horizon["survival"].map(_pct)
            ).rename(columns={"survival": f"survival at {report.horizon_days}d"}),
            formats,
        ),
        "signals": _table(_signal_rows(report.signals), {}),
        "drop_one": _table(report.leaks.drop_one, formats),
        "csm": _table(report.csm.churn_by_rating, formats) if report.csm is not None else "",
    }
    environment = Environment(autoescape=select_autoescape(default=True))
    template = environment.from_string(TEMPLATE)
    return template.render(
        r=report,
        c=report.counts,
        charts=_charts(report, colours),
        tables=tables,
        plotly_js=get_plotlyjs(),
        pct=_pct,
        num=_num,
    )


def write_html(
    report: BacktestReport, path: Path, workspace: Workspace | None = None, force: bool = False
) -> Path:
    """Write the report to `path` (atomically) and return its absolute path.

    The path is checked first (vitalsign.store.output_paths): never a database or a
    workspace file, and an existing file only if it is an HTML page or with `force`.
    """
    return write_output(path, render_html(report), "html", "--html", workspace, force)
