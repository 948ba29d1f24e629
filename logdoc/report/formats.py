"""The report formats by name, and writing one to stdout or a file.

Machine formats are plain strings written as UTF-8 without a byte-order mark (GitLab
rejects one). `terminal` is the rich report; written to a file it is plain text.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..engine.session import Result

MACHINE_FORMATS = ("json", "jsonl", "junit", "sarif", "github", "gitlab", "markdown")
FORMATS = ("terminal", *MACHINE_FORMATS)


class ReportError(Exception):
    """A report file that cannot be written (reported as one line, exit 2)."""


def render(fmt: str, results: list[Result], *, rule_ids: list[str] | None = None) -> str:
    """A machine format as text. `rule_ids` lists the checks that ran (JUnit shows passing ones)."""
    from . import github, gitlab, json_report, jsonl, junit, markdown, sarif

    if fmt == "junit":
        return junit.render(results, rule_ids)
    modules = {"json": json_report, "jsonl": jsonl, "sarif": sarif, "github": github,
               "gitlab": gitlab, "markdown": markdown}
    if fmt not in modules:
        raise ValueError(f"unknown format {fmt!r}")
    return modules[fmt].render(results)


def render_terminal(results: list[Result], console) -> None:
    from rich.text import Text

    from ..core.model import Severity
    from . import terminal

    terminal.render(results, console)
    if len(results) > 1:
        counts = {s: sum(f.severity == s for r in results for f in r.findings) for s in Severity}
        failing = sum(1 for r in results if any(f.severity >= Severity.warning for f in r.findings))
        console.print(Text(f"total: {len(results)} logs, {failing} with problems; "
                           f"{counts[Severity.error]} error(s), {counts[Severity.warning]} warning(s), "
                           f"{counts[Severity.info]} info", style="bold"))


def write_text(text: str, path: str | Path | None, *, append: bool = False) -> None:
    """Write to a file (None or '-': stdout)."""
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "a" if append else "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write report: {exc.strerror or exc}") from None


def write_terminal(results: list[Result], path: str | Path | None, no_color: bool) -> None:
    from .terminal import console

    if path is None or str(path) == "-":
        render_terminal(results, console(no_color, width=120))
        return
    from rich.console import Console

    from .common import InertStream

    try:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            render_terminal(results, Console(file=InertStream(fh), no_color=True, highlight=False, width=120,
                                             color_system=None))
    except OSError as exc:
        raise ReportError(f"{path}: cannot write report: {exc.strerror or exc}") from None
