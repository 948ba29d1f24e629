"""`logdoc analyze`: diagnose a log file or stdin."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from .app import FailOn, app, console, exit_code


class Format(str, Enum):
    terminal = "terminal"
    json = "json"


@app.command()
def analyze(
    path: Annotated[str, typer.Argument(help="Log file (plain or .gz), or - for stdin.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.terminal,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding is at or above this severity.")] = FailOn.error,
    patterns: Annotated[Optional[list[str]], typer.Option("--patterns", help="Extra pattern file or directory (repeatable).")] = None,
    select: Annotated[Optional[list[str]], typer.Option(help="Run only these rules (repeatable).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(help="Skip these rules (repeatable).")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain terminal output.")] = False,
) -> None:
    """Diagnose a training log: findings, root causes and fixes."""
    from .. import api

    ps = api.load_patterns(patterns or [])
    result = api.analyze(path, patterns=ps, select=select, ignore=ignore or (),
                         keep_tables=format is Format.terminal)
    if format is Format.json:
        from ..report import json_report

        sys.stdout.write(json_report.render([result]))
    else:
        from ..report import terminal

        terminal.render([result], console(no_color))
    sys.stdout.flush()
    raise typer.Exit(exit_code([result], fail_on))
