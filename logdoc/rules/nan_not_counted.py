from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import series_metric
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

    def observe_batch(self, b: Batch):
        if self.fired or "nan_steps" not in b.roles:
            return
        import numpy as np

        rows, values = b.np_series("grad_norm")
        bad = np.flatnonzero(~np.isfinite(values))
        if not bad.size:
            return
        bad_rows = rows[bad]
        # a record's first non-finite norm speaks for it
        first = np.concatenate(([True], bad_rows[1:] != bad_rows[:-1]))
        bad, bad_rows = bad[first], bad_rows[first]
        c_rows, c_values = b.np_series("nan_steps")
        s_rows, s_values = b.np_series("skipped_steps")
        quiet = (np.isin(bad_rows, c_rows) & ~np.isin(bad_rows, c_rows[c_values != 0])
                 & ~np.isin(bad_rows, s_rows[s_values > 0]))    # counters all 0, none skipped
        if not quiet.any():
            return
        k = int(np.argmax(quiet))
        i = int(bad_rows[k])
        norm = series_metric(b, "grad_norm", int(bad[k]))
        counter = series_metric(b, "nan_steps", int(np.searchsorted(c_rows, i)))
        self.fired = True
        yield self.finding(
            b.record(i), f"{norm.name} is {fmt(norm.value)} at {b.position(i)} but {counter.name} "
                         "is 0: the nan was not counted or skipped", metric=norm.name)
