from __future__ import annotations

from operator import eq

from ..batch import Batch
from ..model import Severity
from . import register
from .base import Hold, Rule
from .grad_explosion import _CHUNK


@register
class GradNormZero(Rule):
    """The gradient norm is exactly 0.0 in consecutive reports.

    Fires when every gradient norm on a record is exactly 0 at `hold` consecutive reports.

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
    category = "grad-vanishing"
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
        if b.columns is not None and self._quiet(b):
            return                        # a big batch from the vector parser, settled by NumPy
        rows, names, values, _ = b.series("grad_norm")
        if not rows:
            return
        hold = self.hold
        if 0.0 not in values:               # no report is all zeros: an episode in progress ends
            hold.update_at(False, b, rows[0])
            return
        one_each = not any(map(eq, rows, rows[1:]))     # one norm per record (the usual case)
        n, j = len(rows), 0
        while j < n:
            if one_each and j % _CHUNK == 0 and 0.0 not in values[j:j + _CHUNK]:
                hold.update_at(False, b, rows[j])
                j += _CHUNK
                continue
            i, name, zero = rows[j], names[j], values[j] == 0.0
            j += 1
            while j < n and rows[j] == i:           # every norm of the record must be 0
                zero = zero and values[j] == 0.0
                j += 1
            if hold.update_at(zero, b, i):
                self.fired = True
                first = hold.first
                yield self.finding(
                    first, f"{name} is exactly 0 in {hold.count} consecutive reports (lines "
                           f"{first.line}–{b.line[i]}): no parameter receives a gradient",
                    evidence=[b.record(i)], metric=name)
                return

    def _quiet(self, b: Batch) -> bool:
        """The first test below on the batch's arrays: True when no norm is 0 (no report is all
        zeros: an episode in progress ends), False (state untouched) when the list code must
        read the batch."""
        rows, values = b.np_series("grad_norm")
        if not len(rows):
            return True
        if (values == 0.0).any():
            return False
        self.hold.update_at(False, b, int(rows[0]))
        return True
