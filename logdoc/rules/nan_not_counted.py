from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Rule, fmt


@register
class NaNNotCounted(Rule):
    """A non-finite gradient norm on a line whose nan-iteration counter says 0.

    Megatron-LM prints `grad norm: nan` and `number of nan iterations: 0` on the same
    line. Fires at the first such record.

    ## Why is this bad?
    The nan counter only counts iterations that were skipped because their loss was
    non-finite. A nan gradient norm with a finite loss is not counted: the optimizer step may
    have been applied with nan gradients (or silently skipped by the loss scaler), and the
    counter's 0 hides it.

    ## Example
    ```
     iteration     1200/  500000 | lm loss: 6.2E+00 | loss scale: 4096.0 | grad norm: nan | number of skipped iterations:   0 | number of nan iterations:   0 |
    ```

    ## Fix
    Treat the nan gradient norm as a real nan: check the loss scale and skipped iterations
    around it, lower the learning rate or use bf16, and enable `--check-for-nan-in-loss-and-grad`.

    ## Options
    None.

    ## False positives
    With fp16 dynamic loss scaling, a nan gradient norm on an iteration the scaler skipped
    is harmless; the skipped-iterations counter on the same line then shows it.
    """

    id = "nan-not-counted"
    category = "nonfinite"
    severity = Severity.warning
    wants = frozenset({"grad_norm"})

    def __init__(self, **options):
        super().__init__(**options)
        self.fired = False

    def observe(self, rec: Record):
        if self.fired:
            return
        bad = [m for m in rec.by_role("grad_norm") if not m.finite]
        counters = rec.by_role("nan_steps")
        skipped = [m for m in rec.by_role("skipped_steps") if m.value > 0]
        if bad and counters and all(c.value == 0 for c in counters) and not skipped:
            self.fired = True
            yield self.finding(
                rec, f"{bad[0].name} is {fmt(bad[0].value)} at {rec.position()} but {counters[0].name} "
                     "is 0: the nan was not counted or skipped", metric=bad[0].name)
