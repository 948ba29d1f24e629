"""Human views of a Comparison (terminal and markdown). Log text is escaped in both."""
from __future__ import annotations

import html

from ..diagnosis.compare import Comparison
from .common import inert_xml
from .summary import short


def _cell(value) -> str:
    if value is None:
        return "–"
    return short(value) if isinstance(value, (int, float)) else str(value)


def _md(text: str) -> str:
    """Markdown-safe table cell: HTML-escaped, pipes and newlines neutralised."""
    return inert_xml(html.escape(text).replace("|", "&#124;").replace("\n", " ").replace("`", "&#96;"))


def markdown(c: Comparison) -> str:
    out = [f"## logdoc compare: `{_md(c.before.path)}` → `{_md(c.after.path)}`", ""]
    for title, items in (("Resolved", c.resolved), ("New", c.new)):
        out.append(f"**{title}** ({len(items)})")
        out.extend(f"- `{_md(f.rule)}` ({f.severity.name}): {_md(f.message)}" for f in items)
        out.append("")
    out.append(f"**Persisting** ({len(c.persisting)})")
    out.extend(f"- `{_md(a.rule)}`: {_md(a.message)}" for _, a in c.persisting)
    out += ["", "| metric | before | after |", "|---|---:|---:|"]
    out.extend(f"| {_md(label)} | {_cell(b)} | {_cell(a)} |" for label, b, a in c.metrics)
    return "\n".join(out) + "\n"


def terminal(c: Comparison, console) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"before: {c.before.path}\nafter:  {c.after.path}", style="bold"))
    for title, items, style in (("resolved", c.resolved, "green"), ("new", c.new, "red")):
        console.print(Text(f"{title} ({len(items)})", style=f"bold {style}"))
        for f in items:
            console.print(Text(f"  {f.rule}: {f.message}"), soft_wrap=True)
    console.print(Text(f"persisting ({len(c.persisting)})", style="bold yellow"))
    for _, f in c.persisting:
        console.print(Text(f"  {f.rule}: {f.message}"), soft_wrap=True)
    table = Table(show_edge=False)
    table.add_column("metric")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for label, b, a in c.metrics:
        table.add_row(Text(label), _cell(b), _cell(a))
    console.print(table)
