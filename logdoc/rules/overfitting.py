from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt
from .metric_zero import SCORE_NAME


@register
class Overfitting(Rule):
    """Validation loss worsens over several evaluations while the training loss improves.

    At every evaluation (a record with a `val_loss`, or, when no validation loss is logged,
    an accuracy-like validation score; reprints count once) compares with the previous
    evaluation: the validation loss rose (the score fell) by more than `min_rise` (relative)
    and the latest training loss fell. Fires when that holds for
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
    wants = frozenset({"loss", "val_loss", "val_metric"})
    options = {"patience": 3, "min_rise": 0.01}

    def __init__(self, **options):
        super().__init__(**options)
        self.train: float | None = None          # latest training loss
        self.prev: tuple[float, float | None] | None = None   # val and train loss at the last evaluation
        self.reports = Reports()
        self.kind: str | None = None            # "loss" or "score": the validation signal followed
        self.count = 0
        self.first: Record | None = None
        self.fired = False

    def observe(self, rec: Record):
        for m in rec.by_role("loss"):
            if m.finite and rec.phase == "train":
                self.train = m.value
        signal = self._validation_signal(rec)
        if signal is None or self.fired:
            return
        metric, worse_if_higher = signal
        val = metric.value
        if not self.reports.is_new(rec):
            return
        if self.prev is not None:
            prev_val, prev_train = self.prev
            step = self.opt["min_rise"] * abs(prev_val)
            worse = val > prev_val + step if worse_if_higher else val < prev_val - step
            fell = self.train is not None and prev_train is not None and self.train < prev_train
            if worse and fell:
                self.count += 1
                self.first = self.first or rec
            else:
                self.count, self.first = 0, None
        self.prev = (val, self.train)
        if self.count >= self.opt["patience"]:
            self.fired = True
            verb = "rose" if worse_if_higher else "fell"
            yield self.finding(
                self.first, f"{metric.name} {verb} at {self.count} consecutive evaluations (to "
                            f"{fmt(val)} at line {rec.line}) while the training loss fell: overfitting",
                evidence=[rec], metric=metric.name)

    def _validation_signal(self, rec: Record):
        """The validation loss, or (when none is logged) an accuracy-like validation score."""
        if self.kind != "score":
            vals = [m for m in rec.by_role("val_loss") if m.finite]
            if vals:
                self.kind = "loss"
                return vals[0], True
        if self.kind != "loss":
            scores = [m for m in rec.by_role("val_metric") if m.finite and SCORE_NAME.search(m.name)]
            if scores:
                self.kind = "score"
                return scores[0], False
        return None
