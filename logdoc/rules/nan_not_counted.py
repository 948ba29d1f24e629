from __future__ import annotations

from math import isfinite

from ..batch import Batch
from ..model import Severity
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

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        if b.columns is not None:         # NumPy first: no list built when nothing can fire
            import numpy as np

            if "nan_steps" not in b.roles or np.isfinite(b.np_series("grad_norm")[1]).all():
                return                    # (no nan counter: the list code returns too)
        rows, names, values, _ = b.series("grad_norm")
        if all(map(isfinite, values)):
            return
        c_rows, c_names, c_values, _ = b.series("nan_steps")
        if not c_rows:
            return
        counters: dict[int, list] = {}          # row -> [name of its first counter, all 0]
        for r, name, value in zip(c_rows, c_names, c_values):
            counter = counters.get(r)
            if counter is None:
                counters[r] = [name, value == 0]
            elif value != 0:
                counter[1] = False
        s_rows, _, s_values, _ = b.series("skipped_steps")
        skipped = {r for r, value in zip(s_rows, s_values) if value > 0}
        last = -1
        for i, name, value in zip(rows, names, values):
            if i == last or isfinite(value):
                continue
            last = i                          # the record's first non-finite norm speaks for it
            counter = counters.get(i)
            if counter is not None and counter[1] and i not in skipped:
                self.fired = True
                yield self.finding(
                    b.record(i), f"{name} is {fmt(value)} at {b.position(i)} but {counter[0]} "
                                 "is 0: the nan was not counted or skipped", metric=name)
                return
