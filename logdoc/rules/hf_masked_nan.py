from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import in_training, series_metric
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
        if self.fired or "grad_norm" not in b.roles:
            return
        import numpy as np

        rows, values = b.np_series("loss")
        zero = np.flatnonzero(values == 0.0)
        if not zero.size:
            return
        gn_rows, gn_values = b.np_series("grad_norm")
        bad = np.flatnonzero(~np.isfinite(gn_values))
        bad_rows = gn_rows[bad]
        # zero losses beside a non-finite grad norm, on training records
        zero = zero[np.isin(rows[zero], bad_rows)]
        zero = zero[in_training(b, rows[zero])]
        if not zero.size:
            return
        k = int(zero[0])
        i = int(rows[k])
        name = series_metric(b, "loss", k).name
        norm = series_metric(b, "grad_norm", int(bad[np.searchsorted(bad_rows, i)]))
        self.fired = True
        yield self.finding(
            b.record(i), f"{name} is printed as 0.0 while {norm.name} is {fmt(norm.value)} at "
                         f"{b.position(i)}: the nan loss was filtered out of the logged average",
            metric=name)
