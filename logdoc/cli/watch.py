"""`logdoc watch`: diagnose a training log while it is being written (stdin or --follow FILE)."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from .app import (AllowUnrecognizedOption, ConfigOption, ExitZeroOption, FailOn, IgnoreOption, NoColorOption,
                  PatternsOption, SelectOption, UsageFailure, app, exit_code)


class WatchFormat(str, Enum):
    auto = "auto"
    plain = "plain"
    jsonl = "jsonl"
    github = "github"


def make_session(name: str, *, config: str | None, patterns: list[str] | None,
                 select: list[str] | None, ignore: list[str] | None):
    """The Session `analyze` would build for this log: same config, patterns, rules, severities.
    Returns (session, config)."""
    from .. import api
    from ..engine.config import load_config
    from ..engine.session import Session

    cfg = load_config(config)                                    # a bad config fails before any work
    ps = api.load_patterns([*cfg.patterns, *(patterns or [])])
    session = Session(name, patterns=ps, rules=api.rules_for(cfg, select, ignore or ()),
                      severities=cfg.severities, keep_tables=False, live=True)   # keeps no copy of the log
    return session, cfg


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return None


@app.command()
def watch(
    path: Annotated[str, typer.Argument(help="- for stdin (the default); use --follow FILE for a file.")] = "-",
    follow: Annotated[Optional[str], typer.Option("--follow", "-F", help="Follow FILE like `tail -F` (survives truncation and rotation).")] = None,
    from_end: Annotated[bool, typer.Option("--from-end", help="With --follow: start at the end of FILE, not its beginning.")] = False,
    idle_exit: Annotated[Optional[float], typer.Option("--idle-exit", metavar="SECONDS", help="With --follow: stop after SECONDS without new data.")] = None,
    passthrough: Annotated[bool, typer.Option("--passthrough", help="Copy the input to stdout byte for byte; alerts go to stderr.")] = False,
    format: Annotated[WatchFormat, typer.Option("--format", "-f", help="auto: live view on a terminal, plain lines otherwise; jsonl; github (workflow commands).")] = WatchFormat.auto,
    fail_on: Annotated[Optional[FailOn], typer.Option(help="Exit 1 when a finding is at or above this severity (default: the config's fail-on, else error).", show_default=False)] = None,
    exit_zero: ExitZeroOption = False,
    allow_unrecognized: AllowUnrecognizedOption = False,
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
    stdin_filename: Annotated[Optional[str], typer.Option("--stdin-filename", help="Name to report for stdin, e.g. the file tee writes.")] = None,
    no_color: NoColorOption = False,
) -> None:
    """Diagnose a running training live: alerts as soon as a line proves a problem.

    Reads to the end of input whatever it finds, so `tee` and the training keep running.
    """
    from ..engine.engine import ConfigError
    from ..source.follow import Follower, PipeInput
    from ..parsing.patterns import PatternError
    from ..source.reading import InputError
    from ..watch import copy_to_fd, make_sink, raise_on_sigterm, watch_stream

    if path != "-":
        raise UsageFailure(f"watch reads stdin; to watch the file {path!r} use `logdoc watch --follow {path}` "
                           f"(or `logdoc analyze {path}` for a finished log)")
    if follow is None and (from_end or idle_exit is not None):
        raise UsageFailure("--from-end and --idle-exit only apply with --follow FILE")
    if idle_exit is not None and not idle_exit > 0:
        raise UsageFailure("--idle-exit must be a positive number of seconds")
    if follow is not None and stdin_filename is not None:
        raise UsageFailure("--stdin-filename does not apply with --follow FILE")
    if follow is None and sys.stdin.isatty():
        raise UsageFailure("stdin is a terminal: pipe a log into `logdoc watch`, or use --follow FILE")

    try:
        session, cfg = make_session(follow or stdin_filename or "<stdin>", config=config,
                                    patterns=patterns, select=select, ignore=ignore)
    except (ConfigError, PatternError, InputError) as exc:
        if follow is not None or _stdin_fd() is None:
            raise
        # a typo in a config must not kill the training behind `tee`: say it now, then drain
        print(f"logdoc: error: {exc} (reading stdin to its end so the writer keeps running)",
              file=sys.stderr, flush=True)
        PipeInput(sys.stdin.fileno()).drain()
        raise typer.Exit(2) from None
    fail_on = fail_on or FailOn(cfg.fail_on or "error")
    copy = copy_to_fd(sys.stdout.fileno()) if passthrough else None
    if follow is not None:
        stream = Follower(follow, from_end=from_end, idle_exit=idle_exit, copy=copy)
    else:
        stream = PipeInput(sys.stdin.fileno(), copy=copy)
    sink = make_sink(format.value, session, passthrough=passthrough, no_color=no_color)
    stream.tick = sink.tick if sink.tick_interval else None
    raise_on_sigterm()
    try:
        result, signum = watch_stream(stream, session, sink)
    except InputError:
        if isinstance(stream, PipeInput):
            stream.drain()          # bad input still must not break the writer's pipe
        raise
    raise typer.Exit(128 + signum if signum is not None else
                     exit_code([result], fail_on, exit_zero=exit_zero, allow_unrecognized=allow_unrecognized))
