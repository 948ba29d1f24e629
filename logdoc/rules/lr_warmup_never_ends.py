from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Rule, fmt, near_start


def progress(rec: Record) -> float | None:
    """How far through the announced training the record is (0..1), when the log says."""
    if rec.step is not None and rec.step_total:
        return rec.step / rec.step_total
    if rec.epoch is not None and rec.epoch_total:
        return rec.epoch / rec.epoch_total
    return None


@register
class LRWarmupNeverEnds(Rule):
    """The learning rate is still rising half-way through training: warm-up never ended.

    For a log that starts at the beginning of training and announces its length (total
    steps or epochs), fires when a param group's learning rate has only ever risen (at least
    `min_increases` times), is still rising at this report, and the run is past `fraction`
    of its length. A warm-up that reached a constant LR has ended.

    ## Why is this bad?
    A warm-up is meant to last a few percent of training. One that is still going at half
    time was configured in the wrong unit (warm-up steps given in samples or tokens, a
    per-epoch scheduler stepped per batch the other way round) or with a horizon longer than
    the run: most of training happens at a fraction of the intended learning rate and the
    decay phase never comes.

    ## Example
    ```
    [LR] epoch=1 lr=[1e-06]
    [LR] epoch=10 lr=[1e-05]
    [LR] epoch=16 lr=[1.6e-05]      (of 30 epochs)
    ```

    ## Fix
    Express the warm-up in optimizer steps (after gradient accumulation), e.g. 1–5 % of
    `num_training_steps`, and check the scheduler is stepped once per optimizer step.

    ## Options
    - `fraction` (default 0.5): share of training after which a rising LR is reported.
    - `min_increases` (default 3): rises needed before judging.

    ## False positives
    Schedules that rise on purpose for a long time (LR range tests, some cyclic schedules)
    are reported; ignore the rule for them. Logs that do not announce the total length are
    never reported.
    """

    id = "lr-warmup-never-ends"
    category = "lr-schedule"
    severity = Severity.warning
    wants = frozenset({"lr"})
    options = {"fraction": 0.5, "min_increases": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.groups: dict[str, list] = {}     # group -> [first record, last value, increases, rising]
        self.from_start: bool | None = None
        self.fired = False

    def observe(self, rec: Record):
        lrs = [m for m in rec.by_role("lr") if m.finite]
        if not lrs or self.fired:
            return
        if self.from_start is None:
            self.from_start = near_start(rec)
        if not self.from_start:
            return
        done = progress(rec)
        for m in lrs:
            group = m.group or m.name
            g = self.groups.get(group)
            if g is None:
                if len(self.groups) < 64:
                    self.groups[group] = [rec, m.value, 0, True]
                continue
            rising_now = m.value > g[1]
            if m.value < g[1]:
                g[3] = False
            elif rising_now:
                g[2] += 1
            g[1] = m.value
            if (g[3] and rising_now and g[2] >= self.opt["min_increases"]
                    and done is not None and done >= self.opt["fraction"]):
                self.fired = True
                yield self.finding(
                    rec, f"learning rate {m.name} is still rising at {rec.position()} ({done:.0%} of "
                         f"training; {fmt(g[0].by_role('lr')[0].value)} at line {g[0].line} → "
                         f"{fmt(m.value)}): the warm-up never ends", evidence=[g[0]], metric=m.name)
                return
