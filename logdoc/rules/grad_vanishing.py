from __future__ import annotations

import math

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from .base import Hold, Rule, fmt
from ._series import first_metric, hold_through, per_record_max


@register
class GradVanishing(Rule):
    """The gradient norm shrinks towards 0: below `tiny`, or orders of magnitude below its start.

    Fires when the gradient norm is positive but below `tiny` (SageMaker Debugger's
    VanishingGradient threshold) at `hold` consecutive reports, or when it stays `drop`
    times below the largest norm of the first `early` reports for `hold` reports. Norms of
    exactly 0 are `grad-norm-zero`'s.

    ## Why is this bad?
    With vanishing gradients the early layers (or the whole model) stop learning while the
    loop keeps running: saturated activations (sigmoid/tanh), a too-deep net without
    residuals or normalisation, or a loss that no longer depends on the weights.

    ## Example
    ```
    step 100  loss 0.693  grad_norm 3.2e-01
    step 900  loss 0.693  grad_norm 4.1e-08
    step 1000 loss 0.693  grad_norm 2.7e-08
    ```

    ## Fix
    Use ReLU-family activations, residual connections and normalisation layers, a proper
    initialisation (He/Xavier), and check that the loss is computed on logits (not on
    saturated probabilities).

    ## Options
    - `tiny` (default 1e-7): absolute norm below which gradients count as vanished.
    - `drop` (default 10000): ratio to the early maximum that counts as vanished.
    - `early` (default 5): reports that define the starting level.
    - `hold` (default 3): consecutive vanished reports before firing.

    ## False positives
    A model that has converged on an easy task can have tiny gradients legitimately; check
    whether the loss is still high.
    """

    id = "grad-vanishing"
    category = "grad-vanishing"
    severity = Severity.warning
    wants = frozenset({"grad_norm"})
    options = {"tiny": 1e-7, "drop": 1e4, "early": 5, "hold": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.seen = 0
        self.early_max = 0.0
        self.hold = Hold(self.opt["hold"])
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        rows, values = per_record_max(b, "grad_norm", finite_only=True)
        if not rows.size:
            return
        opt, hold = self.opt, self.hold
        tiny, drop = opt["tiny"], opt["drop"]
        # the first `early` reports of the run set the starting level (`early` may be a float)
        left = opt["early"] - self.seen
        k = 0 if not left > 0 else rows.size if left >= rows.size else math.ceil(left)
        if k:
            self.early_max = max(self.early_max, float(values[:k].max()))
        self.seen += rows.size
        early_max = self.early_max
        rest = values[k:]
        import numpy as np

        with np.errstate(over="ignore"):      # a norm of 1e308 times `drop` is inf: not vanished
            vanished = (0 < rest) & ((rest < tiny) | (early_max > 0 and rest * drop <= early_max))
        for j in hold_through(hold, b, rows[k:], vanished):
            self.fired = True
            i, value = int(rows[k + j]), float(rest[j])
            name = first_metric(b, i, "grad_norm", value).name
            yield self.finding(
                hold.first, f"{name} fell to {fmt(value)} (early maximum {fmt(early_max)}) "
                            f"and stayed there for {hold.count} reports", evidence=[b.record(i)],
                metric=name)
            return
