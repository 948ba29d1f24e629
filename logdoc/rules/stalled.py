from __future__ import annotations

import re
from datetime import datetime

from ..model import Record, Severity
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
        g = m.groupdict()
        try:
            t = datetime(int(g.get("y") or 2000), int(g["mo"]), int(g["d"]),
                         int(g["h"]), int(g["mi"]), int(g["s"]))
        except ValueError:
            continue
        return t.timestamp()
    return None


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
        self.last: tuple[float, Record] | None = None

    def observe(self, rec: Record):
        if rec.event == "stall":
            if not self.fired_event:
                self.fired_event = True
                yield self.finding(rec, f"distributed timeout at {rec.position()}: the job hung in a "
                                        f"collective operation ({rec.text.strip()[:120]})")
            return
        if self.fired_silence or (rec.event is None and not rec.metrics):
            return
        t = timestamp(rec.text)
        if t is None:
            return
        if self.last is not None:
            gap = t - self.last[0]
            if gap >= self.opt["max_silence"]:
                self.fired_silence = True
                prev = self.last[1]
                resumed = rec.event is None
                f = self.finding(
                    prev, f"no training output for {gap / 60:.0f} minutes between line {prev.line} and "
                          f"line {rec.line}" + (": a long pause, then training resumed" if resumed else
                                                ", which reports an error: the run hung"),
                    evidence=[rec])
                if resumed:
                    f.severity = Severity.info
                yield f
        if rec.event is None:
            self.last = (t, rec)
