from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Rule, fmt


@register
class MaskedNaN(Rule):
    """A loss printed as exactly 0.0 next to a non-finite gradient norm.

    Fires at the first record where a training loss of exactly 0 sits beside a `grad_norm`
    that is nan/inf.

    ## Why is this bad?
    Hugging Face's Trainer filters non-finite losses out of the logged average
    (`logging_nan_inf_filter=True` by default). When every step of a logging window is nan,
    nothing is left to average and the log shows `'loss': 0.0`: it looks like perfect
    training while the weights are nan. The gradient norm is not filtered and gives it away.

    ## Example
    ```
    {'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1.9e-05, 'epoch': 0.12}
    ```

    ## Fix
    Treat it as a nan loss (see `nonfinite`): the run diverged. Lower the learning rate, use
    bf16 instead of fp16, clip gradients, and set `logging_nan_inf_filter=False` so the log
    shows the nan.

    ## Options
    None.

    ## False positives
    None known: a true loss of 0 has a finite (usually 0) gradient norm.
    """

    id = "hf-masked-nan"
    category = "nonfinite"
    severity = Severity.error
    wants = frozenset({"loss"})

    def __init__(self, **options):
        super().__init__(**options)
        self.fired = False

    def observe(self, rec: Record):
        if self.fired or rec.phase != "train":
            return
        zero = [m for m in rec.by_role("loss") if m.value == 0.0]
        bad = [m for m in rec.by_role("grad_norm") if not m.finite]
        if zero and bad:
            self.fired = True
            yield self.finding(
                rec, f"{zero[0].name} is printed as 0.0 while {bad[0].name} is {fmt(bad[0].value)} at "
                     f"{rec.position()}: the nan loss was filtered out of the logged average",
                metric=zero[0].name)
