from __future__ import annotations

import re
from datetime import datetime
from itertools import compress, repeat
from operator import eq, getitem, sub

from ..batch import Batch
from ..model import Severity
from . import register
from .base import Rule

# Timestamps that logging libraries put at the front of a line: ISO / python logging
# (2023-04-28 06:51:29,903), detectron2-style (02/10 22:55:41), glog (I0210 22:55:41.123).
_ISO = re.compile(r"(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[ T](?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)")
_MDHMS = re.compile(r"(?<![\d/])(?P<mo>\d\d)/(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)")
_HMS = re.compile(r"\d\d:\d\d:\d\d")
_GLOG = re.compile(r"^[IWEF](?P<mo>\d\d)(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)")


def timestamp(text: str) -> float | None:
    """Seconds (relative, consistent within one log) of the timestamp near the line start."""
    head = text[:80]
    if _HMS.search(head) is None:     # every format below has hh:mm:ss; most lines have none
        return None
    for rx in (_ISO, _GLOG, _MDHMS):
        m = rx.search(head)
        if not m:
            continue
        t = _seconds(m)
        if t is not None:
            return t
    return None


def _seconds(m: re.Match) -> float | None:
    """The seconds of a timestamp match, or None when it is no valid date."""
    g = m.groupdict()
    try:
        t = datetime(int(g.get("y") or 2000), int(g["mo"]), int(g["d"]),
                     int(g["h"]), int(g["mi"]), int(g["s"]))
    except ValueError:
        return None
    return t.timestamp()


@register
class Stalled(Rule):
    """The run hangs: a distributed timeout or watchdog fired, or the log went silent.

    Fires at the first timeout event (NCCL/c10d watchdog, `collective operation timeout`,
    barrier timeouts). When lines carry timestamps, it also fires when an error line comes
    more than `max_silence` seconds after the last training record (the run hung, then died);
    a silence after which training simply resumes is reported as information (a slow
    evaluation or checkpoint, or a run resumed later in the same log).

    ## Why is this bad?
    A hung collective blocks every rank until the watchdog kills the job (30 minutes by
    default in torch.distributed): GPU hours are burnt without progress, and the cause (one
    rank crashed, ran out of data, or took a different code path) is usually on another
    rank's log.

    ## Example
    ```
    [E ProcessGroupNCCL.cpp:325] Some NCCL operations have failed or timed out.
      what():  [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(OpType=ALLREDUCE, Timeout(ms)=1800000)
    ```

    ## Fix
    Look at the other ranks' logs for the first error. Make every rank run the same
    collectives (same number of batches: `drop_last=True`, no rank-dependent branches around
    `all_reduce`), run slow rank-0-only work (evaluation, checkpointing) outside collectives
    or raise the timeout (`init_process_group(timeout=…)`), and set
    `NCCL_DEBUG=INFO` / `TORCH_NCCL_ASYNC_ERROR_HANDLING=1` to see the stuck operation.

    ## Options
    - `max_silence` (default 1800): seconds between timestamped training records that count
      as a stall (SageMaker Debugger's StalledTrainingRule threshold).

    ## False positives
    A long evaluation or checkpoint between two training lines can exceed the silence
    threshold; that is only information. Timestamps without a year are compared within one
    year.
    """

    id = "stalled"
    category = "stalled"
    severity = Severity.error
    options = {"max_silence": 1800}

    def __init__(self, **options):
        super().__init__(**options)
        self.fired_event = False
        self.fired_silence = False
        # (seconds, batch, row) of the last timestamped training record
        self.last: tuple | None = None
        self.clock: dict = {}              # timestamp text (and format) -> seconds or None
        self.minutes: dict = {}            # ISO text up to the minute -> its first second

    def observe_batch(self, b: Batch):
        if self.fired_event and self.fired_silence:
            return
        if b.columns is not None and self._quiet(b.columns):
            return                         # proved from the arrays: nothing to read, no state
        events, texts = b.event, b.text
        n = len(texts)
        if not self.fired_silence and events.count(None) == n:   # no event in this batch
            if not b.m_row:
                return                     # and no training record
            if _ISO_AT_START(texts[b.m_row[0]]) is not None and \
                    self._steady(b, list(dict.fromkeys(b.m_row))):
                return
        stalls = not self.fired_event and "stall" in events
        # rows whose first 80 characters may hold a timestamp (every format has hh:mm:ss)
        timed = [] if self.fired_silence else list(compress(range(n), map(_HMS_TAIL.search, texts,
                                                                          repeat(0, n), repeat(80, n))))
        if not timed:
            if stalls:
                yield self._stall(b, events.index("stall"))
            return
        if stalls:                         # stall rows in order among the timestamped ones
            timed = sorted({*timed, *compress(range(n), map(eq, events, repeat("stall", n)))})
        training = set(b.m_row)            # rows with metrics, or with an event, count
        if events.count(None) == n:
            timed = [i for i in timed if i in training]
        else:
            timed = [i for i in timed if i in training or events[i] is not None]
        max_silence = self.opt["max_silence"]
        stamp = self._timestamp
        for i in timed:
            event = events[i]
            if event == "stall":
                if not self.fired_event:
                    yield self._stall(b, i)
                continue
            if self.fired_silence:
                continue
            t = stamp(texts[i])
            if t is None:
                continue
            last = self.last
            if last is not None and t - last[0] >= max_silence:
                self.fired_silence = True
                gap = t - last[0]
                prev = last[1].record(last[2])
                resumed = event is None
                f = self.finding(
                    prev, f"no training output for {gap / 60:.0f} minutes between line {prev.line} and "
                          f"line {b.line[i]}" + (": a long pause, then training resumed" if resumed else
                                                 ", which reports an error: the run hung"),
                    evidence=[b.record(i)])
                if resumed:
                    f.severity = Severity.info
                yield f
            if event is None:
                self.last = (t, b, i)

    def _quiet(self, cols) -> bool:
        """True when the list code below would neither fire nor change state on a batch over
        BlockColumns (no list column is built here); False: let it read the batch.

        That code reads only rows whose first 80 characters hold hh:mm:ss (`_HMS_TAIL`) and,
        until it fired, stall events. Rows of one template code share one line shape (the
        vector parser's codes are its shapes: every digit written as 7), and whether
        `_HMS_TAIL` finds a match in the first 80 characters depends only on the shape, so one
        row per code answers for all of them. Any such row (training or not) sends the batch
        to the list code, which decides."""
        import numpy as np                 # a columns batch: NumPy is loaded already

        attrs, rc = cols.attrs, cols.rc
        if not self.fired_event:
            stall = [k for k, a in enumerate(attrs) if a is not None and a[2] == "stall"]
            if stall and np.isin(rc, stall).any():
                return False
        if self.fired_silence or not cols.n:
            return True
        rep = np.full(len(attrs), -1, np.int64)
        rep[rc] = np.arange(cols.n)        # a row of each code present (any one will do)
        src, start, end, extra = cols.src, cols.text_start, cols.text_end, cols.extra
        search, search_text = _HMS_BYTES.search, _HMS_TAIL.search
        for i in rep[rep >= 0].tolist():
            s = int(start[i])
            if s < 0:                      # a line-by-line record: its text is kept as str
                if search_text(extra[i], 0, 80) is not None:
                    return False
            # text = src[s:e].rstrip(): a match (digits and colons) inside src[s:e] lies in
            # the stripped text too, so its first 80 characters are src[s:min(s + 80, e)]
            elif search(src, s, min(s + 80, int(end[i]))) is not None:
                return False
        return True

    def _stall(self, b: Batch, i: int):
        self.fired_event = True
        rec = b.record(i)
        return self.finding(rec, f"distributed timeout at {rec.position()}: the job hung in a "
                                 f"collective operation ({rec.text.strip()[:120]})")

    def _steady(self, b: Batch, rows: list[int]) -> bool:
        """Training rows (and no event) that all start with an ISO timestamp and leave no gap
        of max_silence: note the last one and say True. Otherwise (False) nothing is changed
        and the rows must be read one by one."""
        keys = list(map(getitem, map(b.text.__getitem__, rows), repeat(_ISO_WIDTH)))
        if _ISO_LINES.fullmatch("\n".join(keys)) is None:
            return False                   # not every row starts with one
        seconds = dict.fromkeys(keys)      # each distinct timestamp once
        minutes = self.minutes
        for key in seconds:
            start = minutes.get(key[:16], _MISSING)
            if start is _MISSING:
                if len(minutes) >= 1024:   # bounded
                    minutes.clear()
                start = minutes[key[:16]] = _minute_start(_ISO_AT_START(key))
            second = int(key[17:])
            if start is None or start is _EXACT or second > 59:
                return False               # no such date, or a clock change: one by one
            seconds[key] = start + second
        times = list(map(seconds.__getitem__, keys))
        last = self.last
        seq = times if last is None else [last[0], *times]
        if len(seq) > 1 and max(map(sub, seq[1:], seq[:-1])) >= self.opt["max_silence"]:
            return False
        self.last = (times[-1], b, rows[-1])
        return True

    def _iso_time(self, key: str, m: re.Match) -> float | None:
        """Seconds of an ISO timestamp at the line start (None: no valid date), cached."""
        clock = self.clock
        t = clock.get(key, _MISSING)
        if t is _MISSING:
            if len(clock) >= 4096:         # bounded: a long log has a new second every line
                clock.clear()
            minutes = self.minutes
            start = minutes.get(key[:16], _MISSING)
            if start is _MISSING:
                if len(minutes) >= 1024:
                    minutes.clear()
                start = minutes[key[:16]] = _minute_start(m)
            second = int(m["s"])
            if start is None:
                t = None                   # no such year, month, day, hour or minute
            elif start is _EXACT or second > 59:
                t = _seconds(m)
            else:
                t = start + second
            clock[key] = t
        return t

    def _timestamp(self, text: str) -> float | None:
        """`timestamp(text)`, remembering what each timestamp's text converts to."""
        m = _ISO_AT_START(text)            # the common case: python logging's asctime first
        if m is not None:
            t = self._iso_time(m.group(), m)
            if t is not None:
                return t                   # what searching the first 80 characters finds first
        clock = self.clock
        head = text[:80]
        if _HMS.search(head) is None:
            return None
        for rx in _FORMATS:
            m = rx.search(head)
            if not m:
                continue
            key = (rx, m.group())
            t = clock.get(key, _MISSING)
            if t is _MISSING:
                if len(clock) >= 4096:     # bounded: a long log has a new second every line
                    clock.clear()
                t = clock[key] = _seconds(m)
            if t is None:
                continue
            return t
        return None


_FORMATS = (_ISO, _GLOG, _MDHMS)
_ISO_AT_START = _ISO.match
_HMS_TAIL = re.compile(r":\d\d:\d\d")    # found wherever _HMS is (a fast literal-led scan)
_HMS_BYTES = re.compile(rb":[0-9][0-9]:[0-9][0-9]")   # _HMS_TAIL on a block's (ASCII) bytes
_MISSING = object()
_ISO_WIDTH = slice(0, 19)              # what _ISO matches is always 19 characters long
_ISO_LINES = re.compile(r"(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\n)*\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
_EXACT = object()                      # a minute whose seconds are not evenly spaced


def _minute_start(m: re.Match):
    """Seconds of an ISO timestamp's minute (second 0): None when there is no such minute,
    _EXACT when a clock change falls inside it (then each second is converted on its own)."""
    g = m.groupdict()
    try:
        start = datetime(int(g["y"]), int(g["mo"]), int(g["d"]), int(g["h"]), int(g["mi"]))
    except ValueError:
        return None
    t = start.timestamp()
    return t if start.replace(second=59).timestamp() - t == 59 else _EXACT
