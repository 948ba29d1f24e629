"""The human report (rich). Log text is always wrapped in Text(), never parsed as markup, and
every console writes through common.InertStream (no line can start a CI runner command)."""
from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..core.model import Severity
from ..engine.session import Result
from .sparkline import marker_row, sparkline
from ..views.overview import TREND_ROLES
from .summary import overview_of, short

STYLE = {Severity.error: "bold red", Severity.warning: "yellow", Severity.info: "cyan"}
MAX_EPOCH_ROWS = 12
MAX_TRENDS = 8


def _epoch_table(result: Result) -> Table | None:
    overview = overview_of(result)
    if overview is None:
        return None
    cols, rows, skipped = overview.epoch_rows()
    if not rows:
        return None
    table = Table(title="per epoch (last value printed)", title_justify="left", show_edge=False)
    table.add_column("epoch", justify="right")
    for c in cols:
        table.add_column(Text(c), justify="right")
    shown = [*rows[:6], None, *rows[-5:]] if skipped or len(rows) > MAX_EPOCH_ROWS else rows
    for row in shown:
        if row is None:
            table.add_row("…", *["" for _ in cols])
            continue
        table.add_row(epoch_label(row[0]), *[Text(short(v)) for v in row[1:]])
    return table


def epoch_label(epoch: float) -> str:
    """An epoch as printed, to six digits: fractional epochs of a long run stay apart
    (1275.96 and 1275.97, which four digits would both show as 1276)."""
    return str(int(epoch)) if float(epoch).is_integer() else f"{epoch:.6g}"


def _trends(result: Result) -> Table | None:
    """Sparklines of the key series (loss, val loss, LR per group, update size), with '^'
    under the points where a finding fired."""
    overview = overview_of(result)
    if overview is None or not overview.series:
        return None
    series = overview.series
    fired = [(f.line, f.metric) for f in result.findings if f.severity >= Severity.warning]
    table = Table(title="trends in log order (× nan/inf, ^ finding)", title_justify="left",
                  show_edge=False, show_header=False, box=None)
    table.add_column("metric", style="bold")
    table.add_column("curve")
    table.add_column("range", style="dim")
    names = sorted(series, key=lambda n: TREND_ROLES.index(series[n].role))[:MAX_TRENDS]
    for name in names:
        s = series[name]
        values = s.values()
        curve = Text(sparkline(values, log=s.role in ("lr", "param_delta", "grad_norm")))
        # a finding marks the series it is about (same role), at the line it fired on
        lines = {line for line, metric in fired
                 if metric is None or (series[metric].role if metric in series else s.role) == s.role}
        marks = marker_row(s.points_at(lines), len(values))
        if marks:
            curve.append("\n" + marks, style="red")
        bounds = s.finite_range
        rng = f"{short(bounds[0])}…{short(bounds[1])}" if bounds else "no finite value"
        table.add_row(Text(name), curve, rng)
    return table


def render(results: list[Result], console: Console) -> None:
    for result in results:
        head = Text()
        head.append(result.path, style="bold")
        head.append(f"  {result.lines} lines, {result.records} training records")
        if result.formats:
            head.append("  formats: " + ", ".join(f"{k} ({v})" for k, v in result.formats.items()))
        console.print(head, soft_wrap=True)
        table = _epoch_table(result)
        if table is not None:
            console.print(table)
        trends = _trends(result)
        if trends is not None:
            console.print(trends)
        for d in result.diagnoses:
            body = Text()
            for i, f in enumerate(d.chain):
                body.append(("  → " if i else "  ") + f"line {f.line}: ", style="bold")
                body.append(f"{f.message}\n")
            body.append("\n" + d.explanation + "\n\n")
            body.append("fix: ", style="bold green")
            body.append(d.fix)
            console.print(Panel(body, title=Text(f"diagnosis: {d.title}"), title_align="left",
                                border_style=STYLE[d.severity]))
        for f in result.findings:
            line = Text()
            line.append(f"{result.path}:{f.line}: ", style="bold")
            line.append(f"{f.severity.name} ", style=STYLE[f.severity])
            line.append(f"[{f.rule}] ", style="dim")
            line.append(f.message)
            console.print(line, soft_wrap=True)
            for e in f.evidence[:2]:
                console.print(Text(f"    {e.line:>6} | {e.text[:200]}", style="dim"), soft_wrap=True)
        console.print(_verdict(result))


def _verdict(result: Result) -> Text:
    if result.records == 0:
        return Text("nothing recognised: logdoc found no training lines it can read (not a verdict of health)",
                    style="yellow")
    counts = {s: sum(f.severity == s for f in result.findings) for s in Severity}
    if not counts[Severity.error] and not counts[Severity.warning]:
        return Text(f"no problems found in {result.records} training records", style="green")
    return Text(f"{counts[Severity.error]} error(s), {counts[Severity.warning]} warning(s), "
                f"{counts[Severity.info]} info", style=STYLE[max(s for s, n in counts.items() if n)])


def console(no_color: bool = False, *, stderr: bool = False, width: int | None = None):
    """A rich console for human output only; NO_COLOR and --no-color turn colour off.
    `width` applies only when not writing to a terminal (rich assumes 80 columns there)."""
    import os
    import sys

    from rich.console import Console

    from .common import InertStream

    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    # InertStream: no line of the report can run as a CI runner command (see common.inert_text)
    return Console(file=InertStream(stream), no_color=no_color or bool(os.environ.get("NO_COLOR")),
                   highlight=False, width=None if tty else width)
