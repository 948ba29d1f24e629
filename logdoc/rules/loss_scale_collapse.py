from __future__ import annotations

from ..core.model import Record, Severity
from . import register
from .base import Rule, fmt


@register
class LossScaleCollapse(Rule):
    """The fp16 dynamic loss scale collapses: below 1, down to 1 from above, or at its minimum.

    Reads metrics with role `loss_scale` and the frameworks' "minimum loss scale" errors
    (DeepSpeed `Current loss scale already at minimum`, fairseq `Minimum loss scale
    reached`). Fires when the scale drops below `min_scale`, falls to `min_scale` after
    having been higher, or an overflow leaves it at `min_scale` (DeepSpeed's `Attempted loss
    scale: 1, reducing to 1`: pinned at the minimum, every step skipped).

    ## Why is this bad?
    The loss scale halves at every overflow. Once it reaches 1 the gradients are no longer
    scaled at all, small ones underflow to 0, and every step still overflows: training has
    effectively stopped (apex keeps halving towards 0, DeepSpeed and fairseq abort).

    ## Example
    ```
    Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 2.0
    Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 1.0
    Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 0.5
    ```

    ## Fix
    The loss itself is exploding (nan/inf in the forward pass). Switch to bf16 or fp32 to
    see the real values, lower the learning rate, clip gradients, and check for log(0) or
    division by 0 in the loss.

    ## Options
    - `min_scale` (default 1.0): the scale at or below which the scaler has collapsed
      (DeepSpeed's default `min_loss_scale`).

    ## False positives
    bf16 runs print a constant `loss scale: 1.0`: a scale that never was higher is not
    reported unless an overflow happens at it (bf16 runs have no overflows).
    """

    id = "loss-scale-collapse"
    category = "fp16-overflow"
    severity = Severity.error
    wants = frozenset({"loss_scale", "event"})
    options = {"min_scale": 1.0}

    def __init__(self, **options):
        super().__init__(**options)
        self.highest = 0.0
        self.fired = False

    def observe(self, rec: Record):
        if self.fired:
            return
        if rec.event == "loss_scale_minimum":
            self.fired = True
            yield self.finding(rec, "the fp16 loss scale reached its minimum and the framework gave up")
            return
        for m in rec.by_role("loss_scale"):
            if not m.finite:
                continue
            floor = self.opt["min_scale"]
            # An overflow that leaves the scale at the floor cannot reduce it any further
            # (DeepSpeed: "Attempted loss scale: 1, reducing to 1"): the scaler is pinned at
            # its minimum even when the log never showed it higher.
            pinned = rec.event == "loss_scale_overflow" and m.value <= floor
            if m.value < floor or pinned or (m.value <= floor and self.highest > floor):
                self.fired = True
                yield self.finding(
                    rec, f"{m.name} fell to {fmt(m.value)} at {rec.position()}"
                         + (f" (from {fmt(self.highest)})" if self.highest > m.value else "")
                         + ": the loss scaler has collapsed", metric=m.name)
                return
            self.highest = max(self.highest, m.value)
