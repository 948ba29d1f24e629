from __future__ import annotations

import math
from operator import eq

from ..batch import Batch
from ..model import Severity
from . import register
from .base import Rule, fmt
from .grad_explosion import _positive
from .lr_warmup_never_ends import _progress_at
from .zero_lr import _is_final_at, group_keys, lr_arrays


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

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        if b.columns is not None and self._quiet(b):
            return                    # proved from the arrays that nothing fires; state updated
        rows, names, values, groups = b.series("lr")
        if not rows:
            return
        tiny = self.opt["tiny"]
        lo = min(values)
        if not lo > 0:
            lo = min(filter(_positive, values), default=math.inf)
        if lo >= tiny:
            # No LR of the batch is in (0, tiny) (the usual case): every run of its groups ends.
            self.reports += len(rows) - sum(map(eq, rows, rows[1:]))
            if self.runs:
                for group in group_keys(groups, names):
                    self.runs.pop(group, None)
            return
        yield from self._observe_rows(b, rows, names, values, groups)

    def _quiet(self, b: Batch) -> bool:
        """The quick path below on a batch over BlockColumns, in arrays: True (state updated
        as it leaves it) when no LR of the batch is in (0, tiny); False, nothing changed."""
        import numpy as np                    # a columns batch: NumPy is loaded already

        rows, values, keys, key = lr_arrays(b)
        if not len(rows):
            return True
        tiny = self.opt["tiny"]
        if tiny != tiny or ((values > 0) & (values < tiny)).any():
            return False
        self.reports += 1 + int(np.count_nonzero(rows[1:] != rows[:-1]))   # records, not metrics
        if self.runs:
            for k in np.flatnonzero(np.bincount(key, minlength=len(keys))).tolist():
                self.runs.pop(keys[k], None)
        return True

    def _observe_rows(self, b: Batch, rows, names, values, groups):
        runs, tiny, hold = self.runs, self.opt["tiny"], self.opt["hold"]
        n, j = len(rows), 0
        while j < n:
            i = rows[j]
            self.reports += 1
            final = _is_final_at(b, i)
            while j < n and rows[j] == i:
                name, value, group = names[j], values[j], groups[j] or names[j]
                j += 1
                if not 0 < value < tiny or final:
                    runs.pop(group, None)
                    continue
                run = runs.get(group)
                if run is None:
                    if len(runs) < 64:
                        runs[group] = [b.record(i), 1, value]
                    continue
                if value > run[2]:
                    runs[group] = [b.record(i), 1, value]     # rising: warm-up
                    continue
                run[1] += 1
                run[2] = value
                done = _progress_at(b, i)
                if done is not None:
                    enough = run[1] >= hold and done < 0.95
                else:     # the tail of a cosine/linear decay is < 1e-7 for its last ~2 %: need more
                    enough = run[1] >= max(hold, 10, self.reports // 4)
                if enough:
                    self.fired = True
                    yield self.finding(
                        run[0], f"learning rate {name} is {fmt(value)} (< {fmt(tiny)}) for "
                                f"{run[1]} reports while training continues: updates are negligible",
                        evidence=[b.record(i)], metric=name)
                    return
