"""Command line: a thin typer layer over logdoc.api, one module per command.

Every failure becomes one line on stderr and exit 2; a traceback never reaches the user.
"""
from __future__ import annotations

import gc
import sys

import typer

from . import analyze, patterns, rules, run, watch  # noqa: F401  (each registers its commands on `app`)
from . import compare, html_report, scan, tables  # noqa: F401
from . import coverage, metrics  # noqa: F401
from .app import UsageFailure, app


class ClosableStdout:
    """stdout whose reader may go away (`logdoc analyze … | head -1`): the first broken pipe
    points the descriptor at /dev/null and every later write succeeds there, so the command
    finishes and exits with its own status, never with 1 for the pipe (nor rich's
    SystemExit(1), which a broken pipe raises inside rich). Everything else is the stream's."""

    def __init__(self, stream):
        self._stream = stream

    def _guard(self, call, *args):
        from ..watch import is_broken_pipe, silence

        try:
            return call(*args)
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            silence(self._stream)
            try:
                return call(*args)      # now into /dev/null
            except OSError:
                return None

    def write(self, text):
        result = self._guard(self._stream.write, text)
        return len(text) if result is None else result

    def flush(self):
        self._guard(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)

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

    stdout = sys.stdout
    sys.stdout = ClosableStdout(stdout)
    try:
        code = app(args=argv, prog_name="logdoc", standalone_mode=False)
        sys.stdout.flush()
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
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, exit 2
        print(f"logdoc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = stdout
