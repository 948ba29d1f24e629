from __future__ import annotations

import re

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import batch_events, metric_rows
from .base import Rule

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_EXCEPTION = re.compile(r"(?P<name>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)(?::\s*(?P<msg>.*))?$")
_PREFIX = re.compile(r"^(?:\[[^\]]{0,40}\]:?\s*)*")
_IPYTHON_HEADER = re.compile(r"\s+Traceback \(most recent call last\)\s*$")


@register
class Crash(Rule):
    """A traceback, exception or fatal abort that ends the run.

    Follows Python tracebacks across their lines (header, `File "…", line N, in f` frames,
    the `SomeError: message` line) keeping only the header, the last frame and the
    exception, and fires when the run ends without training resuming afterwards. The
    message names the exception and the innermost frame. A C++ abort (`terminate called
    after throwing…`, a segmentation fault) ends the run the same way. An exception line
    without a traceback counts too (excerpts often lose the header).

    ## Why is this bad?
    The run stopped before it finished: whatever the metrics said before, the model you get
    is the last checkpoint, and the cause is in the exception, not in the curves.

    ## Example
    ```
    Traceback (most recent call last):
      File "train.py", line 179, in <module>
        loss.backward()
    FloatingPointError: Loss became infinite or NaN at iteration=2137!
    ```

    ## Fix
    Read the exception and the last frame: it names the failing operation. Out-of-memory and
    non-finite losses have their own findings (`oom`, `nonfinite`) with their own fixes;
    fix those first, then resume from the last checkpoint.

    ## Options
    - `resume_records` (default 1): training records after a traceback that prove the
      exception was handled and the run went on (then nothing is reported).

    ## False positives
    A traceback Python swallowed (`Exception ignored in: …`, e.g. dataloader workers at
    shutdown) is not reported. A traceback that a framework prints and survives (a dataloader worker retry, a logged
    warning) is followed by more training lines and is not reported. A log cut off right
    after such a traceback is reported.
    """

    id = "crash"
    category = "crash"
    severity = Severity.error
    options = {"resume_records": 1}

    def __init__(self, **options):
        super().__init__(**options)
        self._reset()

    def _reset(self):
        self.swallowed = False                # the next traceback follows "Exception ignored in"
        self.start: Record | None = None      # header, exception line or abort that opened it
        self.last_frame: Record | None = None
        self.exception: Record | None = None
        self.resumed = 0

    def observe_batch(self, b: Batch):
        import numpy as np

        ev_rows, events = batch_events(b)
        if not ev_rows.size and not (self.swallowed or self.start is not None):
            return ()                      # the usual batch, and no traceback to follow
        trained = metric_rows(b)           # training records: rows with metrics
        done = 0                           # rows before this one are done
        for i, event in zip(ev_rows.tolist(), events):
            self._training(int(np.searchsorted(trained, i) - np.searchsorted(trained, done)))
            self._event(event, b, i)
            done = i + 1
        self._training(int(trained.size - np.searchsorted(trained, done)))
        return ()

    def _training(self, k: int):
        """`k` training records (metrics, no event) in a row."""
        if k <= 0:
            return
        if self.swallowed:
            self.swallowed = False            # training went on after the swallowed traceback
        elif self.start is not None:
            if self.resumed + k >= self.opt["resume_records"]:
                self._reset()
            else:
                self.resumed += k

    def _event(self, event: str, b: Batch, i: int):
        if event == "exception_ignored":
            self._reset()
            self.swallowed = True
            return
        if self.swallowed:
            if event == "exception":
                self.swallowed = False        # the swallowed traceback ended
            return
        if event == "traceback":
            if self.start is None or (self.exception is not None and self.exception.event == "exception"):
                self._reset()          # a new traceback; one after a C++ abort belongs to it
                self.start = b.record(i)
        elif event == "traceback_frame":
            if self.start is not None:
                self.last_frame = b.record(i)
        elif event in ("exception", "fatal"):
            rec = b.record(i)
            if self.start is None:
                self.start = rec
            if event == "exception" or self.exception is None:
                self.exception = rec
            self.resumed = 0

    def finish(self):
        if self.start is None:
            return ()
        what = _exception_name(self.exception) if self.exception else "a traceback with no exception line (log cut off?)"
        where = ""
        if self.last_frame is not None:
            m = _FRAME.search(self.last_frame.text)
            if m:
                where = f" in {m['func']} ({m['file'].rsplit('/', 1)[-1]}:{m['line']})"
        evidence = [r for r in (self.last_frame, self.exception) if r is not None]
        return [self.finding(self.start, f"the run ended with {what}{where}", evidence=evidence)]


def _exception_name(rec: Record) -> str:
    text = _IPYTHON_HEADER.sub("", _PREFIX.sub("", rec.text).strip())
    if rec.event == "fatal":
        return f"a fatal abort: {text[:120]}"
    m = _EXCEPTION.match(text)
    if not m:
        return text[:120]
    msg = (m["msg"] or "").strip()
    name = m["name"].rsplit(".", 1)[-1]
    return f"{name}: {msg[:100]}" if msg else name
