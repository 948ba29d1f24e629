"""One self-contained HTML report (plotly, inlined): curves of every metric with findings
marked, the diagnoses and the evidence lines. Several logs overlay for comparison.

Everything taken from a log (paths, metric names, messages, evidence) is HTML-escaped before
it reaches the page or the chart JSON, so log text can never become markup or script.
"""
from __future__ import annotations

import html

from .. import __version__
from ..engine.session import Result
from .common import inert_xml

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
    # character references for "##"/"::" too: the page says the same, no CI runner reads a command
    return inert_xml(html.escape(str(text), quote=True))


def _axis(m) -> str:
    """x axis for one log (its MetricArrays): step if most metrics have one, else epoch,
    else line number."""
    if m is None or not len(m.line):
        return "line"
    if m.step_known.sum() >= len(m.line) / 2:
        return "step"
    if m.epoch_known.sum() >= len(m.line) / 2:
        return "epoch"
    return "line"


def _x(m, axis: str):
    """(x of every metric on this axis, known mask)."""
    import numpy as np

    if axis == "line":
        return m.line, np.ones(len(m.line), bool)
    return (m.step, m.step_known) if axis == "step" else (m.epoch, m.epoch_known)


def _figure(title: str, roles: tuple[str, ...], results: list[Result]):
    import numpy as np
    import plotly.graph_objects as go

    from ..core.columns import first_codes

    fig = go.Figure()
    traced = False
    for result in results:
        m = result.tables.arrays() if result.tables else None
        axis = _axis(m)
        prefix = f"{result.path}: " if len(results) > 1 else ""
        if m is not None:
            x, known = _x(m, axis)
            picked = np.flatnonzero(np.isin(m.role, m.codes_of(roles)) & known & np.isfinite(m.value))
            names = m.name[picked]
            for code in first_codes(names):
                points = picked[names == code]
                if len(points) > MAX_POINTS:
                    points = points[:: len(points) // MAX_POINTS + 1]
                name = m.texts[code]
                fig.add_trace(go.Scatter(
                    x=x[points].tolist(), y=m.value[points].tolist(), mode="lines+markers",
                    name=_esc(prefix + name), customdata=m.line[points].tolist(),
                    hovertemplate="%{x}: %{y}<br>line %{customdata}<extra>" + _esc(prefix + name) + "</extra>"))
                traced = True
        if traced:
            _mark_findings(fig, result, m, roles, axis)
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


def _mark_findings(fig, result: Result, m, roles, axis: str) -> None:
    """A vertical marker on the chart of the metric each finding is about, where it fired."""
    import numpy as np

    from ..core.columns import first_codes

    first_role = {}                      # metric name -> the role of its first metric
    if m is not None:
        x, known = _x(m, axis)
        for code in first_codes(m.name):
            first_role[m.texts[code]] = m.texts[int(m.role[np.argmax(m.name == code)])]
    for f in result.findings:
        about = first_role.get(f.metric or "")
        if (about not in roles) if about else ("loss" not in roles):
            continue                     # findings without a metric go on the loss chart
        at = {"step": f.step, "epoch": f.epoch, "line": f.line}[axis]
        if at is None and m is not None:     # the x of the first metric on the finding's line
            i = int(np.searchsorted(m.line, f.line))
            if i < len(m.line) and m.line[i] == f.line and known[i]:
                at = x[i].item()
        if at is None:
            continue
        fig.add_vline(x=at, line_dash="dot", line_color=SEVERITY_COLOR[f.severity.name],
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
