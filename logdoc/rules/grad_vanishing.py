from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Hold, Rule, fmt


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

    def observe(self, rec: Record):
        norms = [m for m in rec.by_role("grad_norm") if m.finite]
        if not norms or self.fired:
            return
        m = max(norms, key=lambda n: n.value)
        self.seen += 1
        if self.seen <= self.opt["early"]:
            self.early_max = max(self.early_max, m.value)
            return
        vanished = 0 < m.value and (m.value < self.opt["tiny"]
                                    or (self.early_max > 0 and m.value * self.opt["drop"] <= self.early_max))
        if self.hold.update(vanished, rec):
            self.fired = True
            yield self.finding(
                self.hold.first, f"{m.name} fell to {fmt(m.value)} (early maximum {fmt(self.early_max)}) "
                                 f"and stayed there for {self.hold.count} reports", evidence=[rec], metric=m.name)
