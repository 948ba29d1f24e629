"""`logdoc compare BEFORE AFTER`: proof that a fix worked."""
from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from .app import (AllowUnrecognizedOption, ConfigOption, ExitZeroOption, IgnoreOption, NoColorOption,
                  OutputOption, PatternsOption, SelectOption, UNRECOGNIZED, analyzer, app, emit, human_output,
                  json_text)


class CompareFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


@app.command()
def compare(
    before: Annotated[str, typer.Argument(help="Log of the run before the change.")],
    after: Annotated[str, typer.Argument(help="Log of the run after the change.")],
    format: Annotated[CompareFormat, typer.Option("--format", "-f")] = CompareFormat.terminal,
    output: OutputOption = None,
    exit_zero: ExitZeroOption = False,
    allow_unrecognized: AllowUnrecognizedOption = False,
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
    no_color: NoColorOption = False,
) -> None:
    """Findings resolved, new and persisting, and key metrics side by side. Exit 1 when AFTER has
    a new error, 5 when nothing is recognised in either log."""
    from ..diagnosis.compare import compare as run_compare

    analysed = analyzer(config, patterns, select, ignore)     # both logs read as `analyze` reads them
    logs = analysed(before, keep_tables=True), analysed(after, keep_tables=True)
    result = run_compare(*logs)
    if format is CompareFormat.json:
        emit(json_text(result.to_json(), ensure_ascii=False, allow_nan=False, default=str), output)
    elif format is CompareFormat.markdown:
        from ..report.compare_view import markdown

        emit(markdown(result), output)
    else:
        from ..report.compare_view import terminal

        with human_output(output, no_color, width=None) as out:
            terminal(result, out)
    if result.new_errors and not exit_zero:
        raise typer.Exit(1)
    raise typer.Exit(UNRECOGNIZED if not allow_unrecognized and any(r.records == 0 for r in logs) else 0)
