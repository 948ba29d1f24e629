from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import hold_through, record_starts
from .base import Hold, Rule, fmt


@register
class FrozenParams(Rule):
    """Parameter-update statistics are 0 (or below a tiny threshold) in consecutive reports.

    Reads metrics with role `param_delta` (e.g. `[STEP] Δparam L2: median=… max=…`, an
    update-norm probe). A report counts as frozen when every update statistic on it is at or
    below `tiny`; the finding fires when `hold` consecutive reports are frozen.

    ## Why is this bad?
    If even the largest parameter change is 0, the optimizer is not changing the model:
    the learning rate is 0, gradients do not reach the parameters (detached graph,
    `requires_grad=False`, parameters missing from the optimizer), or every step is skipped.

    ## Example
    ```
    [STEP] Δparam L2: median=0.000e+00  max=0.000e+00
    [STEP] Δparam L2: median=0.000e+00  max=0.000e+00
    ```

    ## Fix
    Check the learning rate first (see `zero-lr`), then that the optimizer holds the
    parameters you train and that `loss.backward()` reaches them (`p.grad` is not None).

    ## Options
    - `hold` (default 2): consecutive frozen reports before firing.
    - `tiny` (default 0.0): update size at or below which a report counts as frozen.

    ## False positives
    A single zero report can be a step skipped by fp16 loss scaling; `hold` covers that.
    """

    id = "frozen-params"
    category = "frozen-params"
    severity = Severity.error
    wants = frozenset({"param_delta"})
    options = {"hold": 2, "tiny": 0.0}

    def __init__(self, **options):
        super().__init__(**options)
        self.hold = Hold(self.opt["hold"])

    def observe_batch(self, b: Batch):
        rows, values = b.np_series("param_delta")
        if not rows.size:
            return
        import numpy as np

        size = np.abs(values)
        starts = record_starts(rows)
        # Frozen: every statistic of the record at or below `tiny`. A nan is not frozen when it
        # comes first (the largest is then nan), and is passed over after a number (`max`).
        frozen = np.logical_and.reduceat(np.isnan(size) | (size <= self.opt["tiny"]), starts)
        frozen &= ~np.isnan(size[starts])
        for k in hold_through(self.hold, b, rows[starts], frozen):
            rec = b.record(int(rows[starts[k]]))
            deltas = [m for m in rec.metrics if m.role == "param_delta"]
            first = self.hold.first
            names = ", ".join(f"{m.name}={fmt(m.value)}" for m in deltas)
            yield self.finding(
                first, f"parameters are not changing: {names} in {self.hold.count} consecutive reports "
                       f"(lines {first.line}–{rec.line})",
                evidence=[rec], metric=deltas[0].name)
