from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt


@register
class ValBetterThanTrain(Rule):
    """Validation loss clearly below the training loss, evaluation after evaluation, or exactly 0.

    From the `start`-th evaluation on, fires (as information) when the validation loss is
    below `ratio` times the latest training loss at `hold` consecutive evaluations, or when a
    validation loss is exactly 0 (UMLAUT's "validation suspiciously good" check, on losses).

    ## Why is this bad?
    A model is rarely better on data it has not seen. A validation loss far below the
    training loss can mean validation samples leaked into training, the validation set is
    easier or tiny, or the two losses are computed differently (train with dropout,
    augmentation or label smoothing; validation without).

    ## Example
    ```
    Epoch 5: train_loss 0.912  val_loss 0.301
    Epoch 6: train_loss 0.887  val_loss 0.295
    Epoch 7: train_loss 0.871  val_loss 0.290
    ```

    ## Fix
    Check that train and validation sets are disjoint (deduplicate by content, split by
    source/patient/user, not by row), and compare both losses under the same conditions
    (evaluate the training set in eval mode).

    ## Options
    - `ratio` (default 0.5): validation/training ratio below which it is suspicious.
    - `hold` (default 3): consecutive suspicious evaluations.
    - `start` (default 3): evaluations to skip at the start (UMLAUT checks from epoch 3).

    ## False positives
    Strong regularisation (dropout, heavy augmentation, mixup) makes the training loss
    legitimately higher; that is why this is information only.
    """

    id = "val-better-than-train"
    category = "overfitting"
    severity = Severity.info
    wants = frozenset({"loss", "val_loss"})
    options = {"ratio": 0.5, "hold": 3, "start": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.train: float | None = None
        self.evals = 0
        self.count = 0
        self.first: Record | None = None
        self.reports = Reports()
        self.fired = False

    def observe(self, rec: Record):
        for m in rec.by_role("loss"):
            if m.finite:
                self.train = m.value
        vals = [m for m in rec.by_role("val_loss") if m.finite]
        if not vals or self.fired:
            return
        if not self.reports.is_new(rec):
            return
        self.evals += 1
        val = vals[0].value
        if val == 0.0 and self.evals > 1:
            self.fired = True
            yield self.finding(rec, f"{vals[0].name} is exactly 0 at {rec.position()}: suspiciously perfect",
                               metric=vals[0].name)
            return
        if self.evals < self.opt["start"] or self.train is None or self.train <= 0:
            return
        if val < self.opt["ratio"] * self.train:
            self.count += 1
            self.first = self.first or rec
        else:
            self.count, self.first = 0, None
        if self.count >= self.opt["hold"]:
            self.fired = True
            yield self.finding(
                self.first, f"{vals[0].name} ({fmt(val)}) is below half the training loss "
                            f"({fmt(self.train)}) at {self.count} consecutive evaluations: check for "
                            "leakage or a different loss in evaluation", evidence=[rec], metric=vals[0].name)
