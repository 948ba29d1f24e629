"""One self-contained HTML report (plotly, inlined): curves of every metric with findings
marked, the diagnoses and the evidence lines. Several logs overlay for comparison.

Everything taken from a log (paths, metric names, messages, evidence) is HTML-escaped before
it reaches the page or the chart JSON, so log text can never become markup or script.
"""
from __future__ import annotations

import html
from collections import defaultdict

from .. import __version__
from ..session import Result

# Charts, in order: a title and the roles plotted on it.
PANELS = (
    ("Loss", ("loss", "val_loss")),
    ("Learning rate", ("lr",)),
    ("Parameter updates", ("param_delta",)),
    ("Gradient norm", ("grad_norm",)),
    ("Loss scale", ("loss_scale",)),
    ("Other metrics", ("val_metric", "metric")),
)
MAX_POINTS = 20_000            # per trace; longer series are thinned evenly
SEVERITY_COLOR = {"error": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
.diag{border-left:4px solid #d62728;padding:.4em 1em;background:#fff5f5;margin:.8em 0}
.diag.warning{border-color:#ff7f0e;background:#fff9f0}
pre{background:#f6f8fa;padding:.5em;overflow-x:auto;white-space:pre-wrap}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
.error{color:#d62728}.warning{color:#b35900}.info{color:#1f77b4}
"""


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _axis(result: Result) -> str:
    """x axis for one log: step if most rows have one, else epoch, else line number."""
    rows = result.tables.rows if result.tables else []
    if not rows:
        return "line"
    steps = sum(r[2] is not None for r in rows)
    epochs = sum(r[1] is not None for r in rows)
    if steps >= len(rows) / 2:
        return "step"
    if epochs >= len(rows) / 2:
        return "epoch"
    return "line"


def _x(row, axis: str):
    return {"line": row[0], "epoch": row[1], "step": row[2]}[axis]


def _figure(title: str, roles: tuple[str, ...], results: list[Result]):
    import plotly.graph_objects as go

    fig = go.Figure()
    traced = False
    for result in results:
        axis = _axis(result)
        series: dict[str, list] = defaultdict(list)
        for row in result.tables.rows if result.tables else []:
            if row[4] in roles:
                x = _x(row, axis)
                if x is not None and row[6] == row[6] and abs(row[6]) != float("inf"):
                    series[row[3]].append((x, row[6], row[0]))
        prefix = f"{result.path}: " if len(results) > 1 else ""
        for name, points in series.items():
            if len(points) > MAX_POINTS:
                points = points[:: len(points) // MAX_POINTS + 1]
            fig.add_trace(go.Scatter(
                x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                name=_esc(prefix + name), customdata=[p[2] for p in points],
                hovertemplate="%{x}: %{y}<br>line %{customdata}<extra>" + _esc(prefix + name) + "</extra>"))
            traced = True
        if traced:
            _mark_findings(fig, result, roles, axis)
        fig.update_xaxes(title_text=axis)
    if not traced:
        return None
    fig.update_layout(title=_esc(title), height=360, margin=dict(l=50, r=20, t=50, b=40),
                      legend=dict(orientation="h"))
    if roles == ("lr",) or roles == ("param_delta",) or roles == ("grad_norm",):
        positive = all(p > 0 for tr in fig.data for p in (tr.y or ()) if p is not None)
        if positive:
            fig.update_yaxes(type="log")
    return fig


def _mark_findings(fig, result: Result, roles, axis: str) -> None:
    """A vertical marker on the chart of the metric each finding is about, where it fired."""
    lines_to_x, role_of = {}, {}
    for row in result.tables.rows:
        lines_to_x.setdefault(row[0], _x(row, axis))
        role_of.setdefault(row[3], row[4])
    for f in result.findings:
        about = role_of.get(f.metric or "")
        if (about not in roles) if about else ("loss" not in roles):
            continue                     # findings without a metric go on the loss chart
        x = {"step": f.step, "epoch": f.epoch, "line": f.line}[axis]
        x = x if x is not None else lines_to_x.get(f.line)
        if x is None:
            continue
        fig.add_vline(x=x, line_dash="dot", line_color=SEVERITY_COLOR[f.severity.name],
                      annotation_text=_esc(f.rule), annotation_position="top")


def render(results: list[Result]) -> str:
    import plotly.io as pio

    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>logdoc report</title><style>{CSS}</style></head><body>",
             f"<h1>logdoc report</h1><p>{len(results)} log(s) · logdoc {__version__}</p>"]
    for result in results:
        fmts = ", ".join(f"{_esc(k)} ({v})" for k, v in result.formats.items()) or "none recognised"
        parts.append(f"<h2>{_esc(result.path)}</h2><p>{result.lines} lines, {result.records} training "
                     f"records; formats: {fmts}</p>")
        for d in result.diagnoses:
            chain = "".join(f"<li>line {f.line}: {_esc(f.message)}</li>" for f in d.chain)
            parts.append(f"<div class='diag {d.severity.name}'><b>Diagnosis: {_esc(d.title)}</b><ol>{chain}</ol>"
                         f"<p>{_esc(d.explanation)}</p><p><b>Fix:</b> {_esc(d.fix)}</p></div>")
        if result.findings:
            rows = "".join(
                f"<tr><td class='{f.severity.name}'>{f.severity.name}</td><td>{_esc(f.rule)}</td>"
                f"<td>{f.line}</td><td>{_esc(f.message)}<pre>"
                + _esc("\n".join(f"{e.line:>6} | {e.text}" for e in f.evidence[:3])) + "</pre></td></tr>"
                for f in result.findings)
            parts.append(f"<table><tr><th>severity</th><th>rule</th><th>line</th><th>finding</th></tr>{rows}</table>")
    first_chart = True
    for title, roles in PANELS:
        fig = _figure(title, roles, results)
        if fig is None:
            continue
        # plotly.js is inlined once, so the file opens without a network.
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=first_chart,
                                 config={"displaylogo": False}))
        first_chart = False
    if first_chart:
        parts.append("<p>No metrics to plot.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
