from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import entry_metric, final_np, lr_arrays, previous_same, progress_np, record_starts
from .base import Rule, fmt


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
        rows, values, keys, key = lr_arrays(b)
        if not rows.size:
            return
        import numpy as np

        runs = self.runs
        # low: in (0, tiny) before the end of training; a report that is not low ends its group's run
        low = (0 < values) & (values < self.opt["tiny"])
        at = np.flatnonzero(low)
        if at.size:
            low[at] = ~final_np(b, rows[at])
        prev = previous_same(key)
        carried = np.array([group in runs for group in keys], bool)
        ends = ~low & np.where(prev >= 0, low[prev], carried[key])
        visit = np.flatnonzero(low | ends)                # the other reports change nothing
        record_rows = rows[record_starts(rows)]
        before = self.reports
        reports_to = before + np.searchsorted(record_rows, rows[visit], "right")  # records with an LR so far
        done, known = progress_np(b, rows[visit])
        for j, reports, done_j, known_j in zip(visit.tolist(), reports_to.tolist(), done.tolist(), known.tolist()):
            group = keys[key[j]]
            if not low[j]:
                runs.pop(group, None)
                continue
            i, value = int(rows[j]), float(values[j])
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
            self.reports = reports
            if self._enough(run[1], done_j if known_j else None):
                self.fired = True
                name = entry_metric(b, "lr", rows, j).name
                yield self.finding(
                    run[0], f"learning rate {name} is {fmt(value)} (< {fmt(self.opt['tiny'])}) for "
                            f"{run[1]} reports while training continues: updates are negligible",
                    evidence=[b.record(i)], metric=name)
                return
        self.reports = before + record_rows.size

    def _enough(self, count: int, done: float | None) -> bool:
        """A run of `count` low reports, at `done` of the announced training, fires."""
        hold = self.opt["hold"]
        if done is not None:
            return count >= hold and done < 0.95
        # the tail of a cosine/linear decay is < 1e-7 for its last ~2 %: need more
        return count >= max(hold, 10, self.reports // 4)
