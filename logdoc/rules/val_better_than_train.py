from __future__ import annotations

from itertools import chain, compress
from math import isfinite
from operator import and_, ne

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from .base import Reports, Rule, fmt
from ._series import LatestLoss, report_key


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

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        losses = LatestLoss(b, train_only=False)
        evals = first_per_row(*b.series("val_loss")[:3]) if "val_loss" in b.roles else ()
        for i, name, val in zip(*evals):
            train = losses.up_to(i)
            if train is not None:
                self.train = train
            if not self.reports.is_new_at(*report_key(b, i)):
                continue
            self.evals += 1
            if val == 0.0 and self.evals > 1:
                self.fired = True
                rec = b.record(i)
                yield self.finding(rec, f"{name} is exactly 0 at {rec.position()}: suspiciously perfect",
                                   metric=name)
                return
            train = self.train
            if self.evals < self.opt["start"] or train is None or train <= 0:
                continue
            if val < self.opt["ratio"] * train:
                self.count += 1
                self.first = self.first or b.record(i)
            else:
                self.count, self.first = 0, None
            if self.count >= self.opt["hold"]:
                self.fired = True
                yield self.finding(
                    self.first, f"{name} ({fmt(val)}) is below half the training loss "
                                f"({fmt(train)}) at {self.count} consecutive evaluations: check for "
                                "leakage or a different loss in evaluation", evidence=[b.record(i)],
                    metric=name)
                return
        train = losses.up_to(float("inf"))
        if train is not None:
            self.train = train


def first_per_row(rows: list[int], names: list[str], values: list[float], name_ok=None) -> tuple:
    """(rows, names, values) of the first finite entry of each row of a metric series (whose
    name passes `name_ok`), selected column by column."""
    ok = list(map(isfinite, values))
    if name_ok is not None:
        ok = list(map(and_, ok, map(name_ok, names)))
    if not all(ok):
        rows, names, values = (list(compress(c, ok)) for c in (rows, names, values))
    first = list(map(ne, rows, chain((-1,), rows)))      # rows are in order: repeats are adjacent
    if not all(first):
        rows, names, values = (list(compress(c, first)) for c in (rows, names, values))
    return rows, names, values
