"""`logdoc compare BEFORE AFTER`: proof that a fix worked."""
from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated

import typer

from .app import (ConfigOption, IgnoreOption, NoColorOption, PatternsOption, SelectOption, analyzer, app,
                  console)


class CompareFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


@app.command()
def compare(
    before: Annotated[str, typer.Argument(help="Log of the run before the change.")],
    after: Annotated[str, typer.Argument(help="Log of the run after the change.")],
    format: Annotated[CompareFormat, typer.Option("--format", "-f")] = CompareFormat.terminal,
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
    no_color: NoColorOption = False,
) -> None:
    """Findings resolved, new and persisting, and key metrics side by side. Exit 1 when AFTER has a new error."""
    from ..diagnosis.compare import compare as run_compare

    analysed = analyzer(config, patterns, select, ignore)     # both logs read as `analyze` reads them
    result = run_compare(analysed(before, keep_tables=True), analysed(after, keep_tables=True))
    if format is CompareFormat.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False,
                                    default=str) + "\n")
    elif format is CompareFormat.markdown:
        from ..report.compare_view import markdown

        sys.stdout.write(markdown(result))
    else:
        from ..report.compare_view import terminal

        terminal(result, console(no_color))
    sys.stdout.flush()
    raise typer.Exit(1 if result.new_errors else 0)
