"""`logdoc analyze`: diagnose log files, directories, globs or stdin; write CI reports."""
from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from .app import (AllowUnrecognizedOption, ConfigOption, ExitZeroOption, FailOn, IgnoreOption, NoColorOption,
                  PatternsOption, SelectOption, StdinFilenameOption, UsageFailure, app, exit_code, stdin_name)


class Format(str, Enum):
    terminal = "terminal"
    json = "json"
    jsonl = "jsonl"
    junit = "junit"
    sarif = "sarif"
    github = "github"
    gitlab = "gitlab"
    markdown = "markdown"


def _rule_ids(select: list[str] | None, ignore: list[str]) -> list[str]:
    from ..rules import all_rules

    return [r for r in (select or all_rules()) if r not in ignore]


@app.command()
def analyze(
    paths: Annotated[list[str], typer.Argument(
        help="Log files (plain or .gz), directories (searched for *.log, *.txt, *.out and their .gz), "
             "globs, or - for stdin.", show_default=False)],
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.terminal,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")] = None,
    fail_on: Annotated[Optional[FailOn], typer.Option(help="Exit 1 when a finding is at or above this severity (default: the config's fail-on, else error).", show_default=False)] = None,
    exit_zero: ExitZeroOption = False,
    allow_unrecognized: AllowUnrecognizedOption = False,
    stdin_filename: StdinFilenameOption = None,
    expect: Annotated[Optional[str], typer.Option("--expect", help="Expectations file (TOML): what a healthy run must show; each unmet one is a finding.")] = None,
    junit_xml: Annotated[Optional[str], typer.Option("--junit-xml", help="Also write a JUnit XML report here.")] = None,
    sarif: Annotated[Optional[str], typer.Option("--sarif", help="Also write a SARIF 2.1.0 report here.")] = None,
    markdown: Annotated[Optional[str], typer.Option("--markdown", help="Also write the Markdown summary here.")] = None,
    gitlab: Annotated[Optional[str], typer.Option("--gitlab", help="Also write a GitLab Code Quality report here.")] = None,
    json_path: Annotated[Optional[str], typer.Option("--json", help="Also write the JSON report here.")] = None,
    github_summary: Annotated[bool, typer.Option("--github-summary", help="Append the Markdown summary to $GITHUB_STEP_SUMMARY when it is set.")] = False,
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
    no_color: NoColorOption = False,
) -> None:
    """Diagnose training logs: findings, root causes and fixes; reports for CI."""
    from .. import api
    from ..diagnosis import expect as expect_file
    from ..source.inputs import expand_paths
    from ..report import formats

    from ..engine.config import load_config

    cfg = load_config(config)                                   # a bad config fails before any work
    select, ignore = cfg.rule_selection(select, ignore)
    fail_on = fail_on or FailOn(cfg.fail_on or "error")
    expectations = expect_file.load(expect) if expect else []   # a bad file fails before any work
    stdin_filename = stdin_name(paths, stdin_filename)
    files = expand_paths(paths)
    ps = api.load_patterns([*cfg.patterns, *(patterns or [])])
    results = [api.analyze(path, patterns=ps, select=select, ignore=ignore or (),
                           expectations=expectations, keep_overview=format is Format.terminal, config=cfg,
                           name=stdin_filename if path == "-" else None)
               for path in files]
    for result in results:
        if expectations:
            result.findings.extend(expect_file.evaluate(expectations, result))
            result.findings.sort(key=lambda f: (f.line, -f.severity))
    rule_ids = _rule_ids(select, ignore or []) + [f"expectation: {e.name}" for e in expectations]

    side_reports = {"junit": junit_xml, "sarif": sarif, "markdown": markdown, "gitlab": gitlab,
                    "json": json_path}
    try:
        for fmt, target in side_reports.items():
            if target:
                formats.write_text(formats.render(fmt, results, rule_ids=rule_ids), target)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if github_summary and summary_file:
            formats.write_text(formats.render("markdown", results), summary_file, append=True)
        if format is Format.terminal:
            formats.write_terminal(results, output, no_color)
        else:
            formats.write_text(formats.render(format.value, results, rule_ids=rule_ids), output)
    except formats.ReportError as exc:
        raise UsageFailure(str(exc)) from None
    sys.stdout.flush()
    raise typer.Exit(exit_code(results, fail_on, exit_zero=exit_zero, allow_unrecognized=allow_unrecognized))
