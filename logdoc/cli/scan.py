"""`logdoc scan DIR…`: many logs in parallel, one row per file."""
from __future__ import annotations

import csv
import io
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from .app import (AllowUnrecognizedOption, ConfigOption, ExitZeroOption, FailOn, IgnoreOption, NoColorOption,
                  OutputOption, PatternsOption, SelectOption, UNRECOGNIZED, UsageFailure, app, emit, human_output,
                  json_text)


class ScanFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    csv = "csv"


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(help="Directories, files or globs of logs.")],
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Worker processes (default: the core count).")] = None,
    format: Annotated[ScanFormat, typer.Option("--format", "-f")] = ScanFormat.terminal,
    output: OutputOption = None,
    exit_zero: ExitZeroOption = False,
    allow_unrecognized: AllowUnrecognizedOption = False,
    fail_on: Annotated[Optional[FailOn], typer.Option(help="Exit 1 when a file's worst finding is at or above this (default: the config's fail-on, else error).", show_default=False)] = None,
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
    no_color: NoColorOption = False,
) -> None:
    """Analyse many logs in parallel and print one row per file (format, progress, worst finding, diagnoses)."""
    from ..api import load_patterns, rules_for
    from ..engine.config import load_config
    from ..source.inputs import expand_paths
    from ..core.model import Severity
    from ..scan import COLUMNS, ScanSettings, scan as run_scan

    if jobs is not None and jobs < 1:
        raise UsageFailure("--jobs must be at least 1")
    cfg = load_config(config)                   # a bad config or pattern file fails before any work
    chosen, ignored = cfg.rule_selection(select, ignore)
    load_patterns([*cfg.patterns, *(patterns or [])])
    rules_for(cfg, chosen, ignored)             # unknown rules or bad options: exit 2 now
    fail_on = fail_on or FailOn(cfg.fail_on or "error")
    settings = ScanSettings(config=cfg, select=tuple(chosen) if chosen else None, ignore=tuple(ignored),
                            patterns=tuple(patterns or ()))
    files = [p for p in expand_paths(paths) if p != "-"]
    if not files:
        raise UsageFailure("scan reads files, not stdin")
    rows = run_scan(files, jobs, settings)
    if format is ScanFormat.json:
        emit(json_text({"schema": 1, "files": rows}), output)
    elif format is ScanFormat.csv:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow(["; ".join(r[c] or []) if c == "diagnoses" else r[c] for c in COLUMNS])
        emit(text.getvalue(), output, human=True)      # CSV has no escapes: broken visibly
    else:
        with human_output(output, no_color, width=200) as out:
            _table(rows, out)
    sys.stdout.flush()
    if any(r["error"] for r in rows):
        for r in rows:
            if r["error"]:
                print(f"logdoc: error: {r['error']}", file=sys.stderr)
        raise typer.Exit(2)
    threshold = None if fail_on is FailOn.never else Severity[fail_on.value]
    failed = threshold is not None and any(r["worst"] and Severity[r["worst"]] >= threshold for r in rows)
    if failed and not exit_zero:
        raise typer.Exit(1)
    raise typer.Exit(UNRECOGNIZED if not allow_unrecognized and any(r["records"] == 0 for r in rows) else 0)


def _table(rows: list[dict], out) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..report.summary import short

    table = Table(show_edge=False)
    for col, justify in (("file", "left"), ("format", "left"), ("epochs", "right"), ("steps", "right"),
                         ("worst", "left"), ("diagnoses", "left")):
        table.add_column(col, justify=justify)
    style = {"error": "bold red", "warning": "yellow", "info": "cyan"}
    for r in rows:
        worst = Text(r["worst"] or ("unreadable" if r["error"] else "ok"),
                     style=style.get(r["worst"], "red" if r["error"] else "green"))
        table.add_row(Text(r["path"]), Text(r["format"] or "–"), short(r["epochs"]), short(r["steps"]),
                      worst, Text("; ".join(r["diagnoses"] or [])))
    out.print(table)
