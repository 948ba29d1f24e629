from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import first_metric, hold_through, record_starts
from .base import Hold, Rule


@register
class GradNormZero(Rule):
    """The gradient norm is exactly 0.0 in consecutive reports.

    Fires when every gradient norm on a record is exactly 0 at `hold` consecutive reports.
    Its category is frozen-params: a norm of exactly 0 is direct evidence that the weights
    receive no update, not a gradient that shrinks (`grad-vanishing`).

    ## Why is this bad?
    A gradient norm of exactly 0 means no parameter receives any gradient: the loss does not
    depend on the trainable weights (frozen or detached model, adapters not attached, loss
    computed on constants), or the loss itself is 0 (every label masked). Optimizer steps
    then change nothing except through weight decay or momentum.

    ## Example
    ```
    {'loss': 0.6931, 'grad_norm': 0.0, 'learning_rate': 5e-07, 'epoch': 0.1}
    {'loss': 0.6931, 'grad_norm': 0.0, 'learning_rate': 1e-06, 'epoch': 0.2}
    ```

    ## Fix
    Check which parameters have `requires_grad=True` and are in the optimizer, that the loss
    is not computed under `torch.no_grad()` or on detached tensors, and that labels are not
    all masked (see `loss-zero`).

    ## Options
    - `hold` (default 2): consecutive zero reports before firing.

    ## False positives
    A logger that prints 0 before the first backward pass; `hold` skips a single report.
    """

    id = "grad-norm-zero"
    category = "frozen-params"
    severity = Severity.error
    wants = frozenset({"grad_norm"})
    options = {"hold": 2}

    def __init__(self, **options):
        super().__init__(**options)
        self.hold = Hold(self.opt["hold"])
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        import numpy as np

        rows, values = b.np_series("grad_norm")
        if not rows.size:
            return
        zero = values == 0.0
        starts = record_starts(rows)
        if starts.size != rows.size:                  # every norm of a record must be 0
            rows, zero = rows[starts], np.logical_and.reduceat(zero, starts)
        hold = self.hold
        for k in hold_through(hold, b, rows, zero):
            self.fired = True
            i = int(rows[k])
            rec = b.record(i)
            name = first_metric(b, i, "grad_norm").name
            first = hold.first
            yield self.finding(
                first, f"{name} is exactly 0 in {hold.count} consecutive reports (lines "
                       f"{first.line}–{rec.line}): no parameter receives a gradient",
                evidence=[rec], metric=name)
            return
