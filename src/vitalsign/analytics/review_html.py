"""The quarterly review as one self-contained HTML file (Plotly with plotly.js inline).

Like the backtest's report (html_report.py) it loads nothing from the network, so it can be
mailed as is. The review's backtest gets its own full report, backtest.html, beside it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from jinja2 import Environment, select_autoescape
from plotly.offline import get_plotlyjs

from vitalsign.analytics.drift import MODERATE, SIGNIFICANT
from vitalsign.analytics.html_report import GREEN, GREY, RED, YELLOW, band_colours, render_html

if TYPE_CHECKING:
    from vitalsign.analytics.review import ReviewReport

BACKTEST_FILE = "backtest.html"
LEVEL_COLOURS = {"stable": GREEN, "moderate": YELLOW, "significant": RED, "n/a": GREY}

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>vitalsign quarterly review: {{ r.model_name }} as of {{ r.as_of }}</title>
<script type="text/javascript">{{ plotly_js | safe }}</script>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.bad { color: #c62828; font-weight: bold; } .ok { color: #2e7d32; } .note { color: #555; }
.moderate { color: #b26a00; font-weight: bold; } .significant { color: #c62828; font-weight: bold; }
</style></head><body>
<h1>Quarterly review of model {{ r.model_name }} as of {{ r.as_of }}</h1>
<p class="note">Model version {{ r.model_hash }}; review period {{ r.period_days }} days;
horizon {{ r.horizon_days }} days; data until {{ r.observed_until.strftime('%Y-%m-%d') }}.</p>
<h2>What needs attention</h2>
{% if findings %}<ul>{% for f in findings %}<li>{{ f }}</li>{% endfor %}</ul>
{% else %}<p class="ok">{{ r.all_clear() }}</p>{% endif %}
{% for n in r.notes %}<p class="note">Note: {{ n }}</p>{% endfor %}
<h2>Backtest of the last quarter with known outcomes</h2>
{% if r.backtest %}{% set b = r.backtest %}
<p>Snapshots {{ lq[1].first }} to {{ lq[1].last }} ({{ lq[1].dates|length }} dates):
ROC-AUC <b>{{ b.roc_auc }}</b>, PR-AUC {{ b.pr_auc }}, churn rate {{ pct(b.base_rate) }};
bands {{ 'ordered by churn' if b.monotone else 'NOT ordered by churn' }}.
The full backtest report: <a href="backtest.html">backtest.html</a>.</p>
{% else %}<p class="note">No backtest (see the notes).</p>{% endif %}
{% if cmp %}<h2>Against the previous review ({{ cmp.as_of }})</h2>
<p>{{ previous_auc(cmp) }}. Different quarters, so no paired interval: the change's interval
combines the two reviews' intervals, and a fall is listed only beyond the noise.</p>
{% if cmp.weight_moves %}<table><tr><th>scorecard</th><th>signal</th><th>proposed weight then</th>
<th>now</th><th>move</th></tr>{% for m in cmp.weight_moves %}<tr><td>{{ m.scorecard }}</td>
<td>{{ m.signal }}</td><td>{{ '%.0f'|format(m.previous) }}%</td>
<td>{{ '%.0f'|format(m.now) }}%</td><td{% if m.flagged %} class="bad"{% endif %}>
{{- '%+.0f'|format(m.move) }}</td></tr>{% endfor %}</table>{% endif %}
{% else %}<p class="note">No previous review of this model to compare with.</p>{% endif %}
<h2>Band churn rates, the later quarter against the earlier one</h2>
{% if lq %}<p class="note" id="band-quarters">Labelled snapshots of the
{{ heading(earlier, lq[0]) }} against the {{ heading(later, lq[1]) }}; 95% account-bootstrap
intervals. A band is drifting when the interval of its change excludes 0.</p>
<table><tr><th>band</th><th>{{ earlier }}</th><th>{{ later }}</th><th>change</th><th></th></tr>
{% for b in r.band_drift %}<tr><td>{{ b.band }}</td>
<td>{{ rate(b.last_rate) }} ({{ b.last_churned }}/{{ b.last_rows }})</td>
<td>{{ rate(b.this_rate) }} ({{ b.this_churned }}/{{ b.this_rows }})</td>
<td>{{ rate(b.change, True) }}</td><td class="bad">{{ 'drifting' if b.drifting }}</td></tr>
{% endfor %}</table>{{ charts.bands | safe }}{% endif %}
<h2>Signal drift (population stability index)</h2>
<p class="note" id="drift-quarters">Raw values in the snapshots of the
{{ heading(earlier, dq[0]) }} against the {{ heading(later, dq[1]) }}. PSI below
{{ moderate }} is stable, {{ moderate }} to {{ significant }} a moderate shift,
{{ significant }} or more a significant one.</p>
<table><tr><th>signal</th><th>PSI</th><th>reading</th><th>median, earlier</th><th>median, later</th>
<th>missing, earlier</th><th>missing, later</th></tr>
{% for d in drifts %}<tr><td>{{ d.signal }}</td><td>{{ num(d.psi) }}</td>
<td class="{{ d.level }}">{{ d.level }}</td><td>{{ num(d.last_median) }}</td>
<td>{{ num(d.this_median) }}</td><td>{{ pct(d.last_shares[-1]) }}</td>
<td>{{ pct(d.this_shares[-1]) }}</td></tr>{% endfor %}</table>{{ charts.psi | safe }}
<h2>Weight stability and the proposal</h2>
{% if r.calibration %}{% set c = r.calibration %}
<p>{{ c.verdict }}. Proposal: <code>{{ c.path }}</code>; review it, then
<code>vitalsign diff</code> before deploying.</p>
{% if r.stability %}
<table><tr><th>scorecard</th><th>signal</th><th>final weight</th>
<th>over folds or refits (mean ± sd, range)</th><th></th></tr>
{% for s in r.stability %}<tr><td>{{ s.scorecard }}</td><td>{{ s.signal }}</td>
<td>{{ '%.0f'|format(s.weight) if s.weight == s.weight else '—' }}%</td>
<td>{% if s.spread.count %}{{ '%.0f ± %.0f%% (%.0f–%.0f%%)'|format(s.spread.mean, s.spread.sd,
s.spread.low, s.spread.high) }}{% else %}—{% endif %}</td>
<td class="bad">{{ s.flags|join('; ') }}</td></tr>{% endfor %}</table>
{% else %}<p class="note">No weight was refitted (see the notes): no weight stability.</p>
{% endif %}
{% else %}<p class="note">No calibrated proposal (see the notes).</p>{% endif %}
</body></html>
"""


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.3f}"


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.1%}"


def _signed(value: Any) -> str:
    return "—" if value is None else f"{value:+.3f}"


def rate(estimate: Any, signed: bool = False) -> str:
    """A rate (or a change of rates) with its interval, in percent."""
    if math.isnan(estimate.value):
        return "—"
    form = "{:+.1%}" if signed else "{:.1%}"
    if math.isnan(estimate.low):
        return form.format(estimate.value)
    return (
        f"{form.format(estimate.value)} [{form.format(estimate.low)}, {form.format(estimate.high)}]"
    )


def _html(figure: go.Figure) -> str:
    figure.update_layout(template="plotly_white", margin={"l": 50, "r": 20, "t": 50, "b": 40})
    html: str = figure.to_html(full_html=False, include_plotlyjs=False)
    return html


def _charts(r: ReviewReport) -> dict[str, str]:
    drifts = [*r.signal_drift, r.score_drift]
    psi = go.Figure(
        go.Bar(
            x=[0.0 if math.isnan(d.psi) else d.psi for d in drifts],
            y=[d.signal for d in drifts],
            orientation="h",
            marker_color=[LEVEL_COLOURS[d.level] for d in drifts],
        )
    )
    for line in (MODERATE, SIGNIFICANT):
        psi.add_vline(x=line, line_dash="dot", line_color=GREY)
    psi.update_layout(
        title="PSI per signal, the later quarter against the earlier one",
        height=max(300, 28 * len(drifts) + 120),
    )
    colours = band_colours([b.band for b in r.band_drift], "")
    bands = go.Figure()
    from vitalsign.analytics.review import EARLIER, LATER, quarter_heading

    pair = r.labelled_quarters
    names = (
        (EARLIER, LATER) if pair is None else tuple(map(quarter_heading, (EARLIER, LATER), pair))
    )
    for quarter, attribute in ((names[0], "last_rate"), (names[1], "this_rate")):
        rates = [getattr(b, attribute) for b in r.band_drift]
        bands.add_trace(
            go.Bar(
                name=quarter,
                x=[b.band for b in r.band_drift],
                y=[e.value for e in rates],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [e.high - e.value for e in rates],
                    "arrayminus": [e.value - e.low for e in rates],
                },
                marker_color=[colours[b.band] for b in r.band_drift],
                opacity=0.5 if attribute == "last_rate" else 1.0,
            )
        )
    bands.update_layout(
        title=f"Churn within {r.horizon_days} days per band",
        barmode="group",
        yaxis_tickformat=".0%",
    )
    return {"psi": _html(psi), "bands": _html(bands)}


def render_review_html(report: ReviewReport) -> str:
    """Return the review as one self-contained HTML page."""
    from vitalsign.analytics.review import EARLIER, LATER, quarter_heading
    from vitalsign.analytics.review_compare import previous_auc

    environment = Environment(autoescape=select_autoescape(default=True))
    return environment.from_string(TEMPLATE).render(
        r=report,
        findings=report.findings(),
        cmp=report.comparison(),
        dq=report.drift_quarters,
        lq=report.labelled_quarters,
        drifts=[*report.signal_drift, report.score_drift],
        charts=_charts(report),
        plotly_js=get_plotlyjs(),
        moderate=MODERATE,
        significant=SIGNIFICANT,
        num=_num,
        pct=_pct,
        signed=_signed,
        rate=rate,
        earlier=EARLIER,
        later=LATER,
        heading=quarter_heading,
        previous_auc=previous_auc,
    )


def write_review_html(report: ReviewReport, path: Path) -> Path:
    """Write review.html (and backtest.html when the review ran a backtest) beside each other."""
    from vitalsign.analytics.review_store import write_text

    if report.backtest is not None:
        write_text(path.parent / BACKTEST_FILE, render_html(report.backtest))
    return write_text(path, render_review_html(report))
