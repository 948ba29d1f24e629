from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import block_means, loss_name, loss_reports
from .base import Reports, Rule, fmt, loss_label, near_start


@register
class LossPlateau(Rule):
    """The training loss has not improved on its best level for a long stretch.

    Averages the training loss over blocks of `window` reports (one per block for per-epoch
    logs) and fires when `patience` consecutive blocks fail to beat the best block mean by
    a relative `min_delta` (the logic of Keras' ReduceLROnPlateau and Lightning's
    EarlyStopping, on block means so that batch noise does not count as progress).
    It is a warning when the best block is still the first one and the log starts at the
    beginning of training (first epoch, first 1000 steps): the run never improved. A plateau
    after real progress, or in a log that starts mid-run, is information, because
    converging runs plateau by design.

    ## Why is this bad?
    Training that no longer reduces the loss only spends compute: the learning rate is too
    low (or decayed too early) or too high (bouncing around the minimum), the model is at
    capacity, or the data/labels carry no more signal.

    ## Example
    ```
    epoch 1  loss 0.912
    epoch 2  loss 0.690
    epoch 3  loss 0.701
    …        (12 more epochs between 0.69 and 0.72)
    ```

    ## Fix
    Try a learning-rate schedule that decays on plateau (`ReduceLROnPlateau`), a larger or
    smaller LR, or stop early: the best checkpoint is already there.

    ## Options
    - `window` (default 10): reports per block for per-step logs.
    - `patience` (default 10): blocks without improvement (Keras ReduceLROnPlateau's 10).
    - `min_delta` (default 0.001): relative improvement of the best block mean that counts.

    ## False positives
    A converged run at its end is on a plateau by design (Keras' ReduceLROnPlateau exists for
    it): after progress the finding is only information. Loss that plateaus and falls again
    when the LR drops (step schedules) resets it.
    """

    id = "loss-plateau"
    category = "loss-plateau"
    severity = Severity.warning
    wants = frozenset({"loss"})
    options = {"window": 10, "patience": 10, "min_delta": 0.001}

    def __init__(self, **options):
        super().__init__(**options)
        self.block: list[float] = []
        self.block_first = None           # Record (or (batch, row) while that batch runs)
        self.best: tuple | None = None    # (mean, where its block began: as block_first)
        self.improved = False          # has any block beaten the first one?
        self.from_start: bool | None = None   # does the log start at the beginning of training?
        self.stale = 0
        self.reports = Reports(one_series=True)
        self.size = 0                     # reports per block in use
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        rows, values, n_epoch = loss_reports(self.reports, b)
        if not rows.size:
            return
        if self.from_start is None:       # (the first report of the run)
            self.from_start = near_start(b.record(int(rows[0])))
        # the reports while the series is per-epoch are blocks of one; the rest, of `window`
        f = self._blocks(b, rows[:n_epoch], values[:n_epoch], 1) if n_epoch else None
        if f is None and n_epoch < len(rows):
            f = self._blocks(b, rows[n_epoch:], values[n_epoch:], self.opt["window"])
        if f is not None:
            yield f
            return
        # keep no batch alive: the open block and the best one become Records
        if type(self.block_first) is tuple:
            self.block_first = b.record(self.block_first[1])
        if self.best is not None and type(self.best[1]) is tuple:
            self.best = (self.best[0], b.record(self.best[1][1]))

    def _blocks(self, b: Batch, rows, values, size: int):
        """New reports (arrays) into blocks of `size` reports, block by block; the finding if
        one fires."""
        if size != self.size:             # the series turned out to be per-step: start over
            self.size, self.block, self.best = size, [], None
        w = max(size, 1)
        n = len(rows)
        block = self.block
        lb = len(block)
        if lb + n < w:                                 # no block completes
            if not lb:
                self.block_first = (b, int(rows[0]))
            self.block = block + values.tolist()
            return None
        import numpy as np

        k0 = w - lb                                    # values that complete the open block
        count = (lb + n) // w
        seq = values[:count * w - lb]
        if lb:
            seq = np.concatenate((np.array(block, np.float64), seq))
        means = block_means(seq.reshape(count, w)).tolist()
        best, stale = self.best, self.stale
        min_delta, patience = self.opt["min_delta"], self.opt["patience"]
        for t, mean in enumerate(means):
            if best is None or mean < best[0] - min_delta * abs(best[0]):
                self.improved = best is not None
                best = (mean, (self.block_first if lb else (b, int(rows[0]))) if t == 0
                        else (b, int(rows[k0 + (t - 1) * w])))
                stale = 0
                continue
            stale += 1
            if stale >= patience:
                self.best, self.stale = best, stale
                return self._fire(b, int(rows[k0 - 1 + t * w]))
        self.best, self.stale = best, stale
        s = k0 + (count - 1) * w                       # the open block starts here
        self.block = values[s:].tolist()
        if s < n:
            self.block_first = (b, int(rows[s]))
        return None

    def _fire(self, b: Batch, i: int):
        """`patience` stale blocks, the last one completed at row i."""
        self.fired = True
        best = self.best
        first = best[1] if type(best[1]) is not tuple else best[1][0].record(best[1][1])
        name = loss_name(b, i)
        rec = b.record(i)
        f = self.finding(
            first, f"{loss_label(name)} has not improved on its "
                   f"{'best' if self.improved else 'first'} average "
                   f"{fmt(round(best[0], 4))} (line {first.line}) for "
                   f"{self.stale} blocks of {self.size} reports (until line {rec.line})"
                   + ("" if self.improved or not self.from_start else ": the run never improved"),
            evidence=[rec], metric=name)
        if self.improved or not self.from_start:
            f.severity = Severity.info
        self.block, self.block_first, self.best = [], None, None   # done: keep no batch alive
        return f
