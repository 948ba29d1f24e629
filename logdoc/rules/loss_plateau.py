from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, loss_label, near_start, train_loss


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
        self.block_first: Record | None = None
        self.best: tuple[float, Record] | None = None
        self.improved = False          # has any block beaten the first one?
        self.from_start: bool | None = None   # does the log start at the beginning of training?
        self.stale = 0
        self.reports = Reports(one_series=True)
        self.size = 0                     # reports per block in use
        self.fired = False

    def observe(self, rec: Record):
        m = train_loss(rec)
        if m is None or not m.finite or self.fired:
            return
        if self.from_start is None:
            self.from_start = near_start(rec)
        if not self.reports.is_new(rec):
            return
        size = 1 if self.reports.per_epoch else self.opt["window"]
        if size != self.size:             # the series turned out to be per-step: start over
            self.size, self.block, self.best = size, [], None
        if not self.block:
            self.block_first = rec
        self.block.append(m.value)
        if len(self.block) < size:
            return
        mean = sum(self.block) / len(self.block)
        self.block = []
        if self.best is None or mean < self.best[0] - self.opt["min_delta"] * abs(self.best[0]):
            self.improved = self.best is not None
            self.best = (mean, self.block_first)
            self.stale = 0
            return
        self.stale += 1
        if self.stale >= self.opt["patience"]:
            self.fired = True
            f = self.finding(
                self.best[1], f"{loss_label(m.name)} has not improved on its "
                              f"{'best' if self.improved else 'first'} average "
                              f"{fmt(round(self.best[0], 4))} (line {self.best[1].line}) for "
                              f"{self.stale} blocks of {size} reports (until line {rec.line})"
                              + ("" if self.improved or not self.from_start else ": the run never improved"),
                evidence=[rec], metric=m.name)
            if self.improved or not self.from_start:
                f.severity = Severity.info
            yield f
