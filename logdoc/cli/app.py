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


class UsageFailure(Exception):
    """Raised by commands for bad arguments they check themselves (exit 2)."""


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


def exit_code(results, fail_on: FailOn) -> int:
    """0: nothing at or above the threshold; 1: something is. (2 is reserved for errors.)"""
    from ..core.model import Severity

    if fail_on is FailOn.never:
        return 0
    threshold = Severity[fail_on.value]
    return int(any(f.severity >= threshold for r in results for f in r.findings))


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
