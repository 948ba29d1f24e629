"""`logdoc run -- CMD …`: run a training, keep its log, diagnose it live.

The command runs with PYTHONUNBUFFERED=1 (so `print` lines arrive as they are printed, not
in 8 KB bursts), stdout and stderr merged into one pipe that logdoc copies byte for byte to
its own stdout and to `--log FILE`, and feeds to the same watch loop as `logdoc watch`.
Alerts and the final report go to stderr.

The command gets its own process group: a Ctrl-C reaches logdoc only, which forwards it (and
SIGTERM, SIGHUP) once to the whole group, then keeps reading until the command's output ends,
so the report covers everything it printed. logdoc exits with the command's status, or 1
when `--fail-on` (implied by `--stop-on`) finds a finding at or above its level.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from enum import Enum
from typing import Annotated, Optional

import typer

from .app import ConfigOption, FailOn, IgnoreOption, NoColorOption, PatternsOption, SelectOption, UsageFailure, app, exit_code


class StopOn(str, Enum):
    error = "error"
    warning = "warning"


class RunFormat(str, Enum):
    plain = "plain"
    jsonl = "jsonl"
    github = "github"


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
RESTORED = (signal.SIGINT, signal.SIGTERM)     # always at their defaults in the command
LADDER = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


class Child:
    """The supervised command: signal forwarding and the SIGINT → SIGTERM → SIGKILL stop.

    Signal dispositions: exec resets a *handled* signal to its default but keeps an *ignored*
    one ignored. logdoc started with SIGINT ignored (`logdoc run … &` in a script) would pass
    that on, and then neither `--stop-on` nor the command's own Ctrl-C cleanup would work.
    So SIGINT and SIGTERM are handled (not ignored) in logdoc while the command is spawned:
    the command always starts with them at their defaults. A signal logdoc itself inherited
    as ignored stays ignored by logdoc and is not forwarded (Python's and nohup's convention:
    a Ctrl-C meant for the foreground job must not reach a background training); SIGHUP
    ignored (nohup) stays ignored in the command too.
    """

    def __init__(self, command: list[str], grace: float, say=None):
        self.grace = grace
        self.say = say or (lambda text: None)
        self.stopping: list[signal.Signals] = []     # signals sent by --stop-on, in order
        self._next_at: float | None = None
        self._notes: list[str] = []                  # said from tick(), not from a signal handler
        self._pending: list[int] = []                # received before the command existed
        self.proc: subprocess.Popen | None = None
        self.inherited = inherited = {s: signal.getsignal(s) for s in FORWARDED}
        self.forwarded = tuple(s for s in FORWARDED if inherited[s] != signal.SIG_IGN)
        for s in self.forwarded:
            signal.signal(s, self._on_signal)
        for s in RESTORED:
            if s not in self.forwarded:
                signal.signal(s, _ignore)             # handled for the spawn, then ignored again
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # In its own process group the command may not read the terminal (SIGTTIN would stop
        # it for good): it reads end-of-file instead. Piped stdin is passed on.
        stdin = subprocess.DEVNULL if _stdin_is_terminal() else None
        try:
            try:
                self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                             stdin=stdin, env=env, process_group=0)
            finally:
                for s in RESTORED:
                    if s not in self.forwarded:
                        signal.signal(s, signal.SIG_IGN)
        except FileNotFoundError:
            self.restore()
            raise UsageFailure(f"{command[0]}: command not found") from None
        except PermissionError:
            self.restore()
            raise UsageFailure(f"{command[0]}: permission denied") from None
        except OSError as exc:
            self.restore()
            raise UsageFailure(f"{command[0]}: cannot run: {exc.strerror or exc}") from None
        for signum in self._pending:
            self.signal(signum)

    def restore(self) -> None:
        """Give logdoc's signals back their dispositions from before the command."""
        for s, handler in self.inherited.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    def signal(self, signum: int) -> None:
        try:
            os.killpg(self.proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass                                      # already gone

    def _on_signal(self, signum, frame) -> None:
        # Only the kill and a note here: writing to stderr from a handler could re-enter
        # the buffered writer the main code is in the middle of.
        self._notes.append(f"logdoc: got {signal.Signals(signum).name}: passing it on to the command\n")
        if self.proc is None:
            self._pending.append(signum)
        else:
            self.signal(signum)

    def stop(self) -> None:
        """Interrupt like a user would (SIGINT); escalate in tick() if it does not end."""
        if not self.stopping:
            self._escalate()

    def tick(self) -> None:
        while self._notes:
            self.say(self._notes.pop(0))
        if self._next_at is not None and time.monotonic() >= self._next_at and self.proc.poll() is None:
            last = self.stopping[-1].name
            following = LADDER[min(len(self.stopping), len(LADDER) - 1)].name
            self.say(f"logdoc: the command is still running {self.grace:g} s after {last}: "
                     f"sending {following}\n")
            self._escalate()

    def _escalate(self) -> None:
        sig = LADDER[min(len(self.stopping), len(LADDER) - 1)]
        self.stopping.append(sig)
        self.signal(sig)
        self._next_at = time.monotonic() + self.grace if sig != signal.SIGKILL else None

    def wait(self) -> int:
        """The command's status; the escalation goes on while it has closed its output but
        not ended."""
        while True:
            try:
                status = self.proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                self.tick()
        self.tick()
        return status if status >= 0 else 128 - status      # killed by signal N -> 128+N


def _ignore(signum, frame) -> None:
    """A no-op handler: what an ignored signal does, but reset to the default by exec."""


def _stdin_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (AttributeError, ValueError, OSError):
        return False


@app.command(context_settings={"allow_interspersed_args": False})
def run(
    command: Annotated[list[str], typer.Argument(help="The command to run, after --.", show_default=False)],
    log: Annotated[Optional[str], typer.Option("--log", metavar="FILE", help="Also write the command's output, byte for byte, to FILE.")] = None,
    stop_on: Annotated[Optional[StopOn], typer.Option("--stop-on", help="Interrupt the command (SIGINT, then SIGTERM after --grace) at the first finding at this level.")] = None,
    grace: Annotated[float, typer.Option("--grace", metavar="SECONDS", help="Wait this long after SIGINT before SIGTERM (and again before SIGKILL).")] = 10.0,
    fail_on: Annotated[Optional[FailOn], typer.Option(help="Exit 1 when a finding is at or above this severity, else the command's status (default: --stop-on's level, else the config's fail-on, else the command's status).", show_default=False)] = None,
    format: Annotated[RunFormat, typer.Option("--format", "-f", help="How alerts are written to stderr.")] = RunFormat.plain,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Findings never make the exit status 1: it is the command's.")] = False,
    patterns: PatternsOption = None,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
    no_color: NoColorOption = False,
) -> None:
    """Run a training command, write its log and diagnose it live.

    Example: logdoc run --log run.log --stop-on error -- python train.py --epochs 30
    """
    from ..source.follow import PipeInput
    from ..core.model import Severity
    from ..source.reading import InputError
    from ..watch import SafeWriter, copy_to_fd, make_sink, watch_stream
    from .watch import make_session

    if not command:
        raise UsageFailure("no command given (usage: logdoc run [OPTIONS] -- CMD …)")
    if not grace >= 0:
        raise UsageFailure("--grace must be a number of seconds ≥ 0")
    session, cfg = make_session(log or "<run>", config=config, patterns=patterns, select=select,
                                ignore=ignore)
    log_file = None
    if log is not None:
        if os.path.isdir(log):
            raise UsageFailure(f"{log}: is a directory")
        try:
            log_file = open(log, "wb", buffering=0)
        except OSError as exc:
            raise UsageFailure(f"{log}: cannot write: {exc.strerror or exc}") from None

    errors = SafeWriter(sys.stderr)
    child = Child(command, grace, say=errors.write)
    to_stdout = copy_to_fd(sys.stdout.fileno())

    def copy(chunk: bytes) -> None:
        nonlocal log_file
        to_stdout(chunk)
        if log_file is not None:
            try:
                log_file.write(chunk)
            except OSError as exc:     # disk full…: warn once, keep the command running
                errors.write(f"logdoc: {log}: write failed ({exc.strerror or exc}); not logging any more\n")
                log_file = None

    # everything of ours goes to stderr: stdout carries the command's output
    sink = make_sink(format.value, session, passthrough=True, no_color=no_color, machine=errors)

    level = Severity[stop_on.value] if stop_on is not None else None

    def on_finding(f) -> None:
        if level is not None and f.severity >= level and not child.stopping:
            errors.write(f"logdoc: stopping the command (SIGINT): {f.severity.name} [{f.rule}] "
                         f"at line {f.line}\n")
            child.stop()

    def tick() -> None:
        child.tick()
        sink.tick()

    stream = PipeInput(child.proc.stdout.fileno(), copy=copy, tick=tick)
    result = None
    try:
        result, _ = watch_stream(stream, session, sink, on_finding=on_finding)
    except InputError as exc:          # printed nothing, or binary output: not ours to judge
        errors.write(f"logdoc: note: {exc}\n")
        stream.drain()
    status = child.wait()
    child.restore()
    if log_file is not None:
        log_file.close()
    if result is None:
        raise typer.Exit(status)
    threshold = fail_on or (FailOn(stop_on.value) if stop_on is not None else None) \
        or (FailOn(cfg.fail_on) if cfg.fail_on else None)
    if threshold is not None and not exit_zero and exit_code([result], threshold, allow_unrecognized=True):
        raise typer.Exit(1)
    raise typer.Exit(status)
