"""Live diagnosis of a running training, without ever breaking it.

`watch_stream` feeds bytes, as they arrive, through `reading.iter_blocks` and the very same
`Session` as `analyze` (same parser, same rules, same diagnoses). Each finding is handed to an
alert sink the moment the line proving it is read; at end of input the sink prints the same
report as `analyze`.

Promises that keep a training alive (see docs in the README, "Live: logdoc watch"):
* input is read to its end whatever is found: if `watch` stopped early, `tee` would die of
  SIGPIPE and the training of BrokenPipeError on its next print;
* if our own output goes away (`| head`, a closed terminal), we go on silently draining;
* Ctrl-C (SIGINT) or SIGTERM end the watch with the summary of what was read.

The sinks here write the streaming formats: plain alert lines, JSON Lines, GitHub workflow
commands and the rich live view. Log text is untrusted: it never reaches rich as markup
(always `Text`) nor a workflow command unescaped.
"""
from __future__ import annotations

import errno
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import BinaryIO, TextIO

from . import __version__
from .core.batch import Batch
from .core.model import JSON_SCHEMA_VERSION, Finding, Severity
from .source.reading import iter_blocks
from .report import github, jsonl
from .engine.session import Result, Session

# A pipe gives what it holds, up to this much (see follow.PipeInput): big enough for the
# NumPy parser to pay off, small enough that memory stays flat on a never-ending stream.
LIVE_BLOCK = 1 << 20


# --------------------------------------------------------------------------- output safety

def is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.ECONNRESET))


def devnull_over(fd: int) -> None:
    """Our reader went away: point the descriptor at /dev/null so later writes (and the
    final flush at exit) succeed quietly while we keep draining the input."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def silence(stream: TextIO | BinaryIO) -> None:
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    devnull_over(fd)


class SafeWriter:
    """Writes text to a stream, flushed per call; a broken pipe silences it instead of
    raising, because a vanished reader of *our* output must not stop the draining."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            self.broken = True
            silence(self.stream)


def copy_to_fd(fd: int) -> Callable[[bytes], None]:
    """--passthrough: write input bytes unchanged and unbuffered to `fd` (stdout)."""
    state = {"broken": False}

    def copy(data: bytes) -> None:
        if state["broken"]:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            state["broken"] = True
            devnull_over(fd)

    return copy


def pipe_safe_console(**kwargs):
    """A rich Console that goes quiet when its reader leaves. (rich's default reaction to a
    broken pipe is SystemExit(1), which would stop the draining and break the writer's pipe.)"""
    from rich.console import Console

    class PipeSafeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            silence(self.file)

    return PipeSafeConsole(**kwargs)


def guarded(console, *args, **kwargs) -> None:
    """console.print that survives a closed stream."""
    try:
        console.print(*args, **kwargs)
    except OSError as exc:
        if not is_broken_pipe(exc):
            raise
        silence(console.file)


# --------------------------------------------------------------------------- formatting

STYLE = {Severity.error: "bold red", Severity.warning: "yellow", Severity.info: "cyan"}


def one_line(text: str) -> str:
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def alert_line(f: Finding) -> str:
    """`path:line: severity [rule] message`, the grep/editor-friendly form."""
    return f"{f.path}:{f.line}: {f.severity.name} [{f.rule}] {one_line(f.message)}"


def summary_object(result: Result, interrupted: bool) -> dict:
    counts = {s.name: 0 for s in Severity}
    for f in result.findings:
        counts[f.severity.name] += 1
    return {
        "type": "summary",
        "schema": JSON_SCHEMA_VERSION,
        "tool": {"name": "logdoc", "version": __version__},
        "path": result.path,
        "lines": result.lines,
        "records": result.records,
        "formats": result.formats,
        "interrupted": interrupted,
        "diagnoses": [d.to_json() for d in result.diagnoses],
        "totals": {f"{k}s": v for k, v in counts.items()},
    }


# --------------------------------------------------------------------------- sinks

class Sink:
    """Receives findings as they are proved and the final Result."""

    tick_interval: float | None = None     # seconds between tick() calls while idle, if wanted

    def alert(self, finding: Finding) -> None: ...

    def batch(self, batch: Batch) -> None:
        """The records a block of input gave (possibly none)."""

    def tick(self) -> None: ...

    def close(self, result: Result, interrupted: bool) -> None: ...

    def abort(self) -> None:
        """The watch ends with an error, without a report."""


class PlainSink(Sink):
    """One line per finding (styled when the stream is a terminal), then analyze's report."""

    def __init__(self, console, report_console):
        self.console = console
        self.report_console = report_console

    def alert(self, f: Finding) -> None:
        from rich.text import Text

        text = Text()
        text.append(f"{f.path}:{f.line}: ", style="bold")
        text.append(f"{f.severity.name} ", style=STYLE[f.severity])
        text.append(f"[{f.rule}] ", style="dim")
        text.append(one_line(f.message))
        guarded(self.console, text, soft_wrap=True)

    def close(self, result: Result, interrupted: bool) -> None:
        report(result, interrupted, self.report_console)


def report(result: Result, interrupted: bool, console) -> None:
    """The same report as `analyze` (without its per-epoch table: watch keeps no copy of the log)."""
    from rich.text import Text

    from .report import terminal

    if interrupted:
        guarded(console, Text(f"interrupted after {result.lines} lines: the report covers what was read",
                              style="yellow"), soft_wrap=True)
    try:
        terminal.render([result], console)
    except OSError as exc:
        if not is_broken_pipe(exc):
            raise
        silence(console.file)


class JsonlSink(Sink):
    """One JSON object per finding (the JSON contract's finding fields), then a summary object
    with `"type": "summary"`."""

    def __init__(self, out: SafeWriter):
        self.out = out

    def _emit(self, doc: dict) -> None:
        self.out.write(jsonl.line(doc) + "\n")

    def alert(self, f: Finding) -> None:
        self.out.write(jsonl.line_for_finding(f) + "\n")

    def close(self, result: Result, interrupted: bool) -> None:
        self._emit(summary_object(result, interrupted))


class GithubSink(Sink):
    """GitHub Actions workflow commands, flushed per alert. GitHub shows at most 10 error and
    10 warning annotations per step, so beyond that the count goes into one final notice."""

    MAX_PER_LEVEL = 10

    def __init__(self, out: SafeWriter, report_console):
        self.out = out
        self.report_console = report_console
        self.emitted = {s: 0 for s in Severity}
        self.held_back = 0

    def alert(self, f: Finding) -> None:
        if self.emitted[f.severity] >= self.MAX_PER_LEVEL:
            self.held_back += 1
            return
        self.emitted[f.severity] += 1
        self.out.write(github.command_for(f) + "\n")

    def close(self, result: Result, interrupted: bool) -> None:
        if self.held_back:
            self.out.write(f"::notice title=logdoc::{self.held_back} more finding(s) not annotated "
                           "(GitHub shows 10 per level and step); see the report in the log\n")
        report(result, interrupted, self.report_console)


class LiveSink(Sink):
    """A rich live view (terminal only): format, position, latest metrics, findings so far.

    Its state is bounded: at most MAX_METRICS metric names and the last MAX_RECENT findings."""

    MAX_METRICS = 12
    MAX_RECENT = 5
    TAIL = 256                # records of each batch the view looks at
    ROLE_ORDER = ("loss", "val_loss", "lr", "param_delta", "grad_norm", "val_metric", "metric")
    tick_interval = 0.25

    def __init__(self, console, session: Session):
        from rich.live import Live

        self.console = console
        self.session = session
        self.position = ""
        self.metrics: dict[str, tuple[str, float, int]] = {}    # name -> (role, value, line)
        self.recent: deque[Finding] = deque(maxlen=self.MAX_RECENT)
        self.counts = {s: 0 for s in Severity}
        self.started = time.monotonic()
        self._dirty = True
        self._last_paint = 0.0
        self.live = Live(self._render(), console=console, auto_refresh=False, transient=True,
                         redirect_stdout=False, redirect_stderr=False)
        self.live.start()

    def record(self, rec) -> None:
        pos = []
        if rec.epoch is not None:
            pos.append(f"epoch {_num(rec.epoch)}" + (f"/{_num(rec.epoch_total)}" if rec.epoch_total else ""))
        if rec.step is not None:
            pos.append(f"step {_num(rec.step)}" + (f"/{_num(rec.step_total)}" if rec.step_total else ""))
        if pos:
            self.position = ", ".join(pos)
        for m in rec.metrics:
            if m.role not in self.ROLE_ORDER:
                continue
            if m.name in self.metrics or len(self.metrics) < self.MAX_METRICS:
                self.metrics[m.name] = (m.role, m.value, rec.line)
        self._dirty = True

    def alert(self, f: Finding) -> None:
        from rich.text import Text

        self.recent.append(f)
        self.counts[f.severity] += 1
        text = Text()
        text.append(f"{f.path}:{f.line}: ", style="bold")
        text.append(f"{f.severity.name} ", style=STYLE[f.severity])
        text.append(f"[{f.rule}] ", style="dim")
        text.append(one_line(f.message))
        guarded(self.live.console, text, soft_wrap=True)
        self._paint(force=True)

    def batch(self, batch: Batch) -> None:
        # the latest position and values: the tail of a replayed block is enough
        for i in range(max(0, len(batch) - self.TAIL), len(batch)):
            self.record(batch.record(i))
        self._dirty = True
        self._paint()

    def tick(self) -> None:
        self._paint(force=True)

    def _paint(self, force: bool = False) -> None:
        now = time.monotonic()
        if (force and self._dirty) or now - self._last_paint >= self.tick_interval:
            self._last_paint = now
            self._dirty = False
            try:
                self.live.update(self._render(), refresh=True)
            except OSError as exc:
                if not is_broken_pipe(exc):
                    raise
                silence(self.console.file)

    def _render(self):
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        s = self.session
        head = Text()
        formats = s.parser.formats.most_common(3)
        head.append("format: ", style="bold")
        head.append(", ".join(f"{k} ({v})" for k, v in formats) if formats else "not recognised yet")
        head.append(f"   {s.lines} lines, {s.parser.records} records", style="dim")
        if self.position:
            head.append("\nposition: ", style="bold")
            head.append(self.position)
        parts: list = [head]
        if self.metrics:
            table = Table(show_edge=False, box=None, padding=(0, 2))
            table.add_column("metric")
            table.add_column("latest", justify="right")
            table.add_column("line", justify="right", style="dim")
            ordered = sorted(self.metrics.items(), key=lambda kv: self.ROLE_ORDER.index(kv[1][0]))
            for name, (role, value, line_no) in ordered:
                table.add_row(Text(name), Text(f"{value:.4g}"), str(line_no))
            parts.append(table)
        found = Text()
        found.append("findings: ", style="bold")
        if not any(self.counts.values()):
            found.append("none so far", style="green")
        else:
            found.append(", ".join(f"{n} {s.name}" for s, n in sorted(self.counts.items(), reverse=True) if n))
        parts.append(found)
        for f in self.recent:          # one line each: the full alerts are printed above
            recent = Text(no_wrap=True, overflow="ellipsis")
            recent.append(f"  line {f.line}: ", style="bold")
            recent.append(f"[{f.rule}] ", style=STYLE[f.severity])
            recent.append(one_line(f.message)[:200])
            parts.append(recent)
        return Panel(Group(*parts), title=Text(f"logdoc watch — {s.path}"), title_align="left",
                     border_style="red" if self.counts[Severity.error] else "blue")

    def abort(self) -> None:
        try:
            self.live.stop()           # shows the cursor again
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            silence(self.console.file)

    def close(self, result: Result, interrupted: bool) -> None:
        self.abort()
        report(result, interrupted, self.console)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# --------------------------------------------------------------------------- the loop

class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (a KeyboardInterrupt, so a late one still exits cleanly)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_on_sigterm() -> None:
    """SIGTERM ends a watch like Ctrl-C: with the report of what was read."""
    def handler(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, handler)


def watch_stream(stream, session: Session, sink: Sink, on_finding: Callable[[Finding], None] | None = None
                 ) -> tuple[Result, int | None]:
    """Feed `stream` (anything with read1) through `session` until end of input or a signal.

    Returns (result, signal number or None). Findings only provable at the end (rules'
    finish()) are alerted before the report, so every finding is alerted exactly once."""
    alerted: set[int] = set()
    signum = None
    try:
        for first_no, data in iter_blocks(stream, session.path, LIVE_BLOCK):
            for f in session.feed_block(first_no, data):
                alerted.add(id(f))
                sink.alert(f)
                if on_finding is not None:
                    on_finding(f)
            sink.batch(session.last_batch)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
    except BaseException:
        sink.abort()                  # e.g. bad input: leave the terminal as we found it
        raise
    result = session.finish()
    for f in result.findings:
        if id(f) not in alerted:
            sink.alert(f)
    sink.close(result, signum is not None)
    return result, signum


# --------------------------------------------------------------------------- choosing a sink

FORMATS = ("auto", "plain", "jsonl", "github")


def make_sink(fmt: str, session: Session, *, passthrough: bool, no_color: bool,
              machine: SafeWriter | None = None) -> Sink:
    """Machine formats go to stdout; human output goes to stdout unless stdout carries the
    log itself (--passthrough) or machine output, then to stderr. `machine` overrides where
    jsonl/github go (`logdoc run` sends them to stderr). `auto` shows the live view
    when the human stream is a terminal that nothing else writes to, plain lines otherwise."""
    human_on_stderr = passthrough or fmt in ("jsonl", "github")
    from .report.common import InertStream

    human = pipe_safe_console(no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False,
                              file=InertStream(sys.stderr if human_on_stderr else sys.stdout))
    machine = machine or SafeWriter(sys.stdout)
    if fmt == "jsonl":
        return JsonlSink(machine)
    if fmt == "github":
        return GithubSink(machine, human)
    human_stream = sys.stderr if human_on_stderr else sys.stdout
    shared_with_log = passthrough and sys.stdout.isatty()
    if (fmt == "auto" and human_stream.isatty() and human.is_terminal and not human.is_dumb_terminal
            and not shared_with_log):
        return LiveSink(human, session)
    return PlainSink(human, human)

