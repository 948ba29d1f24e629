"""Command line: a thin typer layer over logdoc.api, one module per command.

Every failure becomes one line on stderr and exit 2; a traceback never reaches the user.
"""
from __future__ import annotations

import gc
import os
import sys

import typer

from . import analyze, patterns, rules, run, watch  # noqa: F401  (each registers its commands on `app`)
from . import compare, html_report, scan, tables  # noqa: F401
from . import coverage, metrics  # noqa: F401
from .app import UsageFailure, app

def main(argv: list[str] | None = None) -> int:
    """Entry point: every failure becomes one line on stderr and exit 2, never a traceback."""
    # A long log allocates millions of short-lived lists and tuples and no reference cycles:
    # the modules loaded so far are frozen out of the cycle collector and it runs less often
    # (about 10 % of an analysis' time otherwise). Only the command line does this; the
    # library leaves the collector of its host program alone.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    from ..engine.engine import ConfigError
    from ..parsing.patterns import PatternError
    from ..source.reading import InputError

    try:
        code = app(args=argv, prog_name="logdoc", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Abort:
        return 130
    except typer.TyperException as exc:       # typer's (vendored click's) usage errors
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())           # a bare `logdoc` asks for help
            return 0
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = exc.format_message()
        if len(message) > 300:          # e.g. hundreds of unexpected arguments from a shell glob
            message = message[:300] + "…"
        print(f"logdoc: error: {' '.join(message.split())}{hint}", file=sys.stderr)
        return 2
    except (InputError, PatternError, ConfigError, UsageFailure) as exc:
        print(f"logdoc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`logdoc analyze … | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, exit 2
        print(f"logdoc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
