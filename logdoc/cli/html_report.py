"""`logdoc report LOG… -o report.html`: a self-contained HTML report with charts."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import ConfigOption, IgnoreOption, PatternsOption, SelectOption, UsageFailure, analyzer, app


@app.command("report")
def html_report(
    paths: Annotated[list[str], typer.Argument(help="One or more logs; several overlay on the same charts.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path("report.html"),
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Write one self-contained HTML file: charts of every metric, findings marked, diagnoses, evidence."""
    analysed = analyzer(config, patterns, select, ignore)     # findings as `analyze` would give them
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise UsageFailure("the HTML report needs plotly: pip install 'logdoc-ml[html]'") from None
    from ..report.html import render

    results = [analysed(p, keep_tables=True) for p in paths]
    try:
        output.write_text(render(results), encoding="utf-8")
    except OSError as exc:
        raise UsageFailure(f"{output}: cannot write: {exc.strerror}") from None
    print(f"wrote {output}")
