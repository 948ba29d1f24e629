"""`logdoc compare BEFORE AFTER`: proof that a fix worked."""
from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated

import typer

from .app import NoColorOption, app, console


class CompareFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


@app.command()
def compare(
    before: Annotated[str, typer.Argument(help="Log of the run before the change.")],
    after: Annotated[str, typer.Argument(help="Log of the run after the change.")],
    format: Annotated[CompareFormat, typer.Option("--format", "-f")] = CompareFormat.terminal,
    no_color: NoColorOption = False,
) -> None:
    """Findings resolved, new and persisting, and key metrics side by side. Exit 1 when AFTER has a new error."""
    from .. import api
    from ..compare import compare as run_compare

    result = run_compare(api.analyze(before, keep_tables=True), api.analyze(after, keep_tables=True))
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
