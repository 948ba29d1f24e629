"""`logdoc report LOG… -o report.html`: a self-contained HTML report with charts.

Without -o it writes ./report.html, as `coverage html` writes htmlcov/: never silently, the
path written is said on stderr (stdout stays free for `-o -`, the page itself)."""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from .app import (ConfigOption, IgnoreOption, PatternsOption, SelectOption, StdinFilenameOption, UsageFailure,
                  analyzer, app, emit, stdin_name)

DEFAULT_OUTPUT = "report.html"


@app.command("report")
def html_report(
    paths: Annotated[list[str], typer.Argument(help="One or more logs; several overlay on the same charts.")],
    output: Annotated[str, typer.Option("--output", "-o", help="HTML file to write (- for stdout).")] = DEFAULT_OUTPUT,
    stdin_filename: StdinFilenameOption = None,
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Write one self-contained HTML file: charts of every metric, findings marked, diagnoses, evidence."""
    stdin_filename = stdin_name(paths, stdin_filename)
    analysed = analyzer(config, patterns, select, ignore)     # findings as `analyze` would give them
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise UsageFailure("the HTML report needs plotly: pip install 'logdoc-ml[html]'") from None
    from ..report.html import render

    results = [analysed(p, keep_tables=True, name=stdin_filename if p == "-" else None) for p in paths]
    emit(render(results), output)
    if output != "-":
        print(f"logdoc: wrote {output}", file=sys.stderr)
