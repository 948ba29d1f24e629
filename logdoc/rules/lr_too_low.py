from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Rule, fmt, is_final
from .lr_warmup_never_ends import progress


@register
class LRTooLow(Rule):
    """A learning rate that is positive but below `tiny` while training continues.

    Fires when a param group's learning rate stays below `tiny` (UMLAUT's LRLowError
    bound, 1e-7) at `hold` consecutive reports that are not rising (warm-up), before the
    last 5 % of the announced training. When the log does not announce its length, the
    low LR must last at least 10 reports and a quarter of the reports so far: the tail of a
    cosine or linear decay to 0 sits below 1e-7 for its last ~2 %. Exactly 0 is `zero-lr`'s.

    ## Why is this bad?
    With an LR of 1e-8 the weights move by a negligible amount per step: the run is
    effectively frozen. It usually means the schedule decayed too early (its horizon is
    shorter than training, or it was stepped per batch when it expected epochs), or a step
    decay was applied too often.

    ## Example
    ```
    Epoch: [15]  [ 0/500]  lr: 0.000000  loss: 0.5870
    Epoch: [15]  [20/500]  lr: 0.000000  loss: 0.5991
    ```

    ## Fix
    Match the scheduler horizon to the real number of optimizer steps, call
    `scheduler.step()` once per the unit it expects, and set a floor (`eta_min`, `min_lr`).

    ## Options
    - `tiny` (default 1e-7): learning rate below which updates are negligible (UMLAUT).
    - `hold` (default 3): consecutive reports before firing.

    ## False positives
    A schedule that ends near 0 at its final step is not reported; a deliberately tiny LR
    for a frozen stage is.
    """

    id = "lr-too-low"
    category = "lr-schedule"
    severity = Severity.warning
    wants = frozenset({"lr"})
    options = {"tiny": 1e-7, "hold": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.runs: dict[str, list] = {}     # group -> [first record, count, last value]
        self.reports = 0                      # records carrying a learning rate
        self.fired = False

    def observe(self, rec: Record):
        if self.fired:
            return
        if rec.by_role("lr"):
            self.reports += 1
        for m in rec.by_role("lr"):
            group = m.group or m.name
            if not (m.finite and 0 < m.value < self.opt["tiny"]) or is_final(rec):
                self.runs.pop(group, None)
                continue
            run = self.runs.get(group)
            if run is None:
                if len(self.runs) < 64:
                    self.runs[group] = [rec, 1, m.value]
                continue
            if m.value > run[2]:
                self.runs[group] = [rec, 1, m.value]      # rising: warm-up
                continue
            run[1] += 1
            run[2] = m.value
            done = progress(rec)
            if done is not None:
                enough = run[1] >= self.opt["hold"] and done < 0.95
            else:     # the tail of a cosine/linear decay is < 1e-7 for its last ~2 %: need more
                enough = run[1] >= max(self.opt["hold"], 10, self.reports // 4)
            if enough:
                self.fired = True
                yield self.finding(
                    run[0], f"learning rate {m.name} is {fmt(m.value)} (< {fmt(self.opt['tiny'])}) for "
                            f"{run[1]} reports while training continues: updates are negligible",
                    evidence=[rec], metric=m.name)
                return
