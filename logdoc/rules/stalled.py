from __future__ import annotations

import re
from datetime import datetime
from itertools import compress, repeat
from operator import add, getitem, is_, itemgetter

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import batch_events, metric_rows, rows_searched, texts_at
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
        self.clock: dict = {}              # (format, timestamp text) -> seconds or None
        self.minutes: dict = {}            # ISO text up to the minute -> its first second

    def observe_batch(self, b: Batch):
        if self.fired_event and self.fired_silence:
            return
        ev_rows, events = batch_events(b)
        found = []                         # (row, finding): a timeout and a silence
        if not self.fired_event and "stall" in events:
            i = int(ev_rows[events.index("stall")])
            found.append((i, self._stall(b, i)))
        if not self.fired_silence:
            silence = self._silence(b, ev_rows, events)
            if silence is not None:
                found.append(silence)
        for _, f in sorted(found, key=itemgetter(0)):
            yield f

    def _silence(self, b: Batch, ev_rows, events):
        """(row, finding) where a timestamped record comes `max_silence` seconds after the
        last timestamped training record, or None; `self.last` follows the training records.
        Records with metrics or an event count (a timeout is the other finding's)."""
        import numpy as np

        rows = rows_searched(b, _HMS_TAIL, _HMS_BYTES, 80)    # every format has hh:mm:ss
        if not rows.size:
            return None
        stall = ev_rows[[e == "stall" for e in events]] if events else ev_rows
        rows = rows[np.isin(rows, metric_rows(b)) | np.isin(rows, ev_rows)]
        rows = rows[~np.isin(rows, stall)]
        if not rows.size:
            return None
        with_event = np.isin(rows, ev_rows)
        times = np.array(self._times(texts_at(b, rows)), np.float64)     # nan: no timestamp
        known = ~np.isnan(times)
        # the last training time before each row: the one carried in, then each training row's
        sets = known & ~with_event
        at = np.maximum.accumulate(np.where(sets, np.arange(rows.size), -1))
        before = np.empty(rows.size, np.int64)
        before[0], before[1:] = -1, at[:-1]
        carried = np.nan if self.last is None else self.last[0]
        last = np.where(before >= 0, times[np.maximum(before, 0)], carried)
        gaps = np.flatnonzero(known & (times - last >= self.opt["max_silence"]))
        prev = None
        if gaps.size:
            k = int(gaps[0])
            prev = self.last[1:] if before[k] < 0 else (b, int(rows[before[k]]))
            sets[k + 1:] = False           # fired: later rows are not followed
        if sets.any():
            k_last = int(np.flatnonzero(sets)[-1])
            self.last = (float(times[k_last]), b, int(rows[k_last]))
        if prev is None:
            return None
        self.fired_silence = True
        i = int(rows[k])
        prev, rec, resumed = prev[0].record(prev[1]), b.record(i), not with_event[k]
        f = self.finding(
            prev, f"no training output for {(float(times[k]) - float(last[k])) / 60:.0f} minutes between line "
                  f"{prev.line} and line {rec.line}" + (": a long pause, then training resumed" if resumed else
                                                       ", which reports an error: the run hung"),
            evidence=[rec])
        if resumed:
            f.severity = Severity.info
        return i, f

    def _times(self, texts: list[str]) -> list:
        """`self._timestamp` of each text (nan for None). Texts that start with an ISO
        timestamp (python logging's asctime, the common case) are read by their first 19
        characters, once per distinct timestamp (`_iso_times` when all of them do)."""
        keys = list(map(getitem, texts, repeat(_ISO_WIDTH)))
        distinct = list(dict.fromkeys(keys))
        if _ISO_LINES.fullmatch("\n".join(distinct)) is not None:
            found = self._iso_times(distinct)
        else:
            found = [self._iso_time(key) if _ISO_AT_START(key) is not None else None for key in distinct]
        times = list(map(dict(zip(distinct, found)).__getitem__, keys))
        for k in compress(range(len(times)), map(is_, times, repeat(None))):
            t = self._timestamp(texts[k])  # no valid timestamp at the start: search the head
            times[k] = _NAN if t is None else t
        return times

    def _iso_times(self, keys: list[str]) -> list:
        """`_iso_time` of each of these ISO timestamps, in bulk: one conversion per minute."""
        minute_keys = list(map(getitem, keys, repeat(_MINUTE)))
        starts = {key: self._minute(key) for key in dict.fromkeys(minute_keys)}
        seconds = list(map(int, map(getitem, keys, repeat(_SECOND))))
        if None in starts.values() or _EXACT in starts.values() or max(seconds) > 59:
            return list(map(self._iso_time, keys))     # no such date, or a clock change
        return list(map(add, map(starts.__getitem__, minute_keys), seconds))

    def _stall(self, b: Batch, i: int):
        self.fired_event = True
        rec = b.record(i)
        return self.finding(rec, f"distributed timeout at {rec.position()}: the job hung in a "
                                 f"collective operation ({rec.text.strip()[:120]})")

    def _iso_time(self, key: str) -> float | None:
        """Seconds of `key`, an ISO timestamp as _ISO matches it at a line start (None: no
        valid date)."""
        start = self._minute(key[_MINUTE])
        if start is None:
            return None                    # no such year, month, day, hour or minute
        second = int(key[_SECOND])
        if start is _EXACT or second > 59:
            return _seconds(_ISO_AT_START(key))
        return start + second

    def _minute(self, key: str):
        """`_minute_start` of an ISO timestamp's first 16 characters, remembered."""
        minutes = self.minutes
        start = minutes.get(key, _MISSING)
        if start is _MISSING:
            if len(minutes) >= 1024:       # bounded
                minutes.clear()
            start = minutes[key] = _minute_start(_ISO_AT_START(key + ":00"))
        return start

    def _timestamp(self, text: str) -> float | None:
        """`timestamp(text)`, remembering what each timestamp's text converts to."""
        m = _ISO_AT_START(text)            # the common case: python logging's asctime first
        if m is not None:
            t = self._iso_time(m.group())
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
_NAN = float("nan")
_ISO_WIDTH = slice(0, 19)              # what _ISO matches is always 19 characters long
_MINUTE, _SECOND = slice(0, 16), slice(17, 19)      # its minute and its second
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
