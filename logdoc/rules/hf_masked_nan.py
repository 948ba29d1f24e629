from __future__ import annotations

from itertools import compress, repeat
from math import isfinite
from operator import eq, not_

from ..batch import Batch
from ..model import Severity
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

    def observe_batch(self, b: Batch):
        if b.columns is not None and not self.fired and _quiet(b):
            return
        if self.fired or "grad_norm" not in b.roles or 0.0 not in b.m_value:   # nothing to unmask
            return
        rows, names, values, _ = b.series("loss")
        if 0.0 not in values:
            return
        gn_rows, gn_names, gn_values, _ = b.series("grad_norm")
        if all(map(isfinite, gn_values)):
            return
        bad: dict[int, int] = {}                    # row -> its first non-finite grad norm
        for j in compress(range(len(gn_values)), map(not_, map(isfinite, gn_values))):
            bad.setdefault(gn_rows[j], j)
        phase = b.phase
        for k in compress(range(len(values)), map(eq, values, repeat(0.0))):
            i = rows[k]
            if i in bad and phase[i] == "train":
                name = names[k]
                self.fired = True
                j = bad[i]
                yield self.finding(
                    b.record(i), f"{name} is printed as 0.0 while {gn_names[j]} is {fmt(gn_values[j])} at "
                                 f"{b.position(i)}: the nan loss was filtered out of the logged average",
                    metric=name)
                return


def _quiet(b: Batch) -> bool:
    """The list code's early returns, with NumPy on a batch over BlockColumns (no list
    built): no grad norm, no loss of exactly 0, or no non-finite grad norm."""
    import numpy as np

    if "grad_norm" not in b.roles or not (b.columns.m_value == 0.0).any():
        return True
    if not (b.np_series("loss")[1] == 0.0).any():
        return True
    return bool(np.isfinite(b.np_series("grad_norm")[1]).all())
