from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt


@register
class Overfitting(Rule):
    """Validation loss worsens over several evaluations while the training loss improves.

    At every evaluation (a record with a `val_loss`; repeats of the same epoch/step count
    once) compares with the previous evaluation: the validation loss rose by more than
    `min_rise` (relative) and the latest training loss fell. Fires when that holds for
    `patience` consecutive evaluations (UMLAUT's check per epoch pair, AUTOTRAINER's count
    of consecutive "turn bad" epochs).

    ## Why is this bad?
    The model is memorising the training set: every further epoch makes it worse on unseen
    data, and the checkpoint you keep at the end is worse than an earlier one.

    ## Example
    ```
    Epoch=2,Loss:0.467,Valid Loss:0.491
    Epoch=3,Loss:0.350,Valid Loss:0.514
    Epoch=4,Loss:0.279,Valid Loss:0.564
    Epoch=5,Loss:0.220,Valid Loss:0.644
    ```

    ## Fix
    Keep the checkpoint with the best validation loss (early stopping), add regularisation
    (weight decay, dropout, augmentation), use more data or a smaller model, lower the number
    of epochs.

    ## Options
    - `patience` (default 3): consecutive worsening evaluations before firing.
    - `min_rise` (default 0.01): relative rise of the validation loss that counts (AUTOTRAINER's ε).

    ## False positives
    Validation loss can rise while accuracy still improves (over-confident but correct
    predictions); the finding is a warning, check the validation metric.
    """

    id = "overfitting"
    category = "overfitting"
    severity = Severity.warning
    options = {"patience": 3, "min_rise": 0.01}

    def __init__(self, **options):
        super().__init__(**options)
        self.train: float | None = None          # latest training loss
        self.prev: tuple[float, float | None] | None = None   # val and train loss at the last evaluation
        self.reports = Reports()
        self.count = 0
        self.first: Record | None = None
        self.fired = False

    def observe(self, rec: Record):
        for m in rec.by_role("loss"):
            if m.finite:
                self.train = m.value
        vals = [m for m in rec.by_role("val_loss") if m.finite]
        if not vals or self.fired:
            return
        val = vals[0].value
        if not self.reports.is_new(rec):
            return
        if self.prev is not None:
            prev_val, prev_train = self.prev
            rose = val > prev_val * (1 + self.opt["min_rise"])
            fell = self.train is not None and prev_train is not None and self.train < prev_train
            if rose and fell:
                self.count += 1
                self.first = self.first or rec
            else:
                self.count, self.first = 0, None
        self.prev = (val, self.train)
        if self.count >= self.opt["patience"]:
            self.fired = True
            yield self.finding(
                self.first, f"{vals[0].name} rose at {self.count} consecutive evaluations (to "
                            f"{fmt(val)} at line {rec.line}) while the training loss fell: overfitting",
                evidence=[rec], metric=vals[0].name)
