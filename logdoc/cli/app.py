"""The root typer app and what commands share (formats, exit policy, console)."""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from .. import __version__
from ..report.terminal import console  # noqa: F401  (the commands' console)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Forensics for machine-learning training logs.")


# Options several commands share, declared once (the spaCy style of typer wrappers).
PatternsOption = Annotated[Optional[list[str]], typer.Option(
    "--patterns", help="Extra pattern file or directory (repeatable).")]
SelectOption = Annotated[Optional[list[str]], typer.Option(
    "--select", help="Run only these rules or categories (repeatable; replaces the config's select).")]
IgnoreOption = Annotated[Optional[list[str]], typer.Option(
    "--ignore", help="Skip these rules or categories (repeatable; adds to the config's ignore).")]
ConfigOption = Annotated[Optional[str], typer.Option(
    "--config", help="Config file (logdoc.toml or pyproject.toml); default: the nearest one from the working directory up.")]
NoColorOption = Annotated[bool, typer.Option("--no-color", help="Plain terminal output (NO_COLOR is honoured too).")]
ExitZeroOption = Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even with findings (2 still means an error, 5 nothing recognised).")]
AllowUnrecognizedOption = Annotated[bool, typer.Option(
    "--allow-unrecognized", help="Exit 0, not 5, when nothing in an input is recognised.")]
StdinFilenameOption = Annotated[Optional[str], typer.Option(
    "--stdin-filename", help="Name to report for - (stdin), e.g. the file the log came from.")]


class UsageFailure(Exception):
    """Raised by commands for bad arguments they check themselves (exit 2)."""


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


# pytest's code for "no tests collected": an input in which nothing was recognised was not checked
UNRECOGNIZED = 5


def exit_code(results, fail_on: FailOn, *, exit_zero: bool = False, allow_unrecognized: bool = False) -> int:
    """The exit status for analysed logs, in order of precedence (errors, 2, never get here):
    1 when a finding is at or above `fail_on` (unless `exit_zero`); 5 when nothing was
    recognised in some input (unless `allow_unrecognized`); else 0. As in pytest, what was
    found rules over what could not be looked at."""
    from ..core.model import Severity

    if not exit_zero and fail_on is not FailOn.never:
        threshold = Severity[fail_on.value]
        if any(f.severity >= threshold for r in results for f in r.findings):
            return 1
    if not allow_unrecognized and any(r.records == 0 for r in results):
        return UNRECOGNIZED
    return 0


def stdin_name(paths: list[str], stdin_filename: str | None) -> str | None:
    """--stdin-filename checked: it names `-`, so it needs `-` among the inputs."""
    if stdin_filename is not None:
        if "-" not in paths:
            raise UsageFailure("--stdin-filename names stdin: it needs - among the inputs")
        if not stdin_filename.strip():
            raise UsageFailure("--stdin-filename must not be empty")
    return stdin_filename


OutputOption = Annotated[Optional[str], typer.Option(
    "--output", "-o", help="Write the report to this file instead of stdout (- for stdout).")]


def json_text(doc, **dumps) -> str:
    """A JSON document as commands print it: report.common.json_text, then a newline."""
    from ..report.common import json_text as text

    return text(doc, **dumps) + "\n"


def emit(text: str, output: str | None, *, human: bool = False) -> None:
    """Write a report to stdout or to `output`; `human` text is made inert visibly
    (common.inert_text), machine text must already be (inert_json). An unwritable file is
    a UsageFailure (one line, exit 2)."""
    from ..report import formats
    from ..report.common import inert_text

    try:
        formats.write_text(inert_text(text) if human else text, output)
    except formats.ReportError as exc:
        raise UsageFailure(str(exc)) from None


class human_output:
    """`with human_output(output, no_color) as out:` a rich console on stdout or on the file
    `output` (plain text there), writing through common.InertStream."""

    def __init__(self, output: str | None, no_color: bool = False, width: int | None = 120):
        self.output, self.no_color, self.width, self.fh = output, no_color, width, None

    def __enter__(self):
        from rich.console import Console

        from ..report.common import InertStream

        if self.output is None or self.output == "-":
            return console(self.no_color, width=self.width)
        try:
            self.fh = open(self.output, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise UsageFailure(f"{self.output}: cannot write report: {exc.strerror or exc}") from None
        return Console(file=InertStream(self.fh), no_color=True, highlight=False, width=self.width or 120,
                       color_system=None)

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        print(f"logdoc {__version__}")
        raise typer.Exit(0)


def analyzer(config: str | None, patterns: list[str] | None, select: list[str] | None,
             ignore: list[str] | None):
    """`analyze` as the command line configures it (config file, --patterns, --select,
    --ignore): a function of a path and api.analyze's keywords. Bad settings fail here,
    before any log is read."""
    from .. import api

    cfg, ps, chosen, ignored = api.settings(config, patterns=patterns or (), select=select,
                                            ignore=ignore or ())

    def analysed(path: str, **kwargs):
        return api.analyze(path, patterns=ps, select=chosen, ignore=ignored, config=cfg, **kwargs)

    return analysed
