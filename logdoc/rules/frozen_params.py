from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Hold, Rule, fmt
from ._series import columns_rows


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

    def observe_batch(self, b):
        """`observe` for each record with an update statistic. On a batch over BlockColumns,
        NumPy first: when no statistic is at or below `tiny` (so no record is frozen), every
        record only ends the episode, which is the state left here. Otherwise only the
        records with a statistic are built (each reading its own text, not the block's)."""
        c = b.columns
        if c is None:
            yield from super().observe_batch(b)
            return
        import numpy as np


        values = b.np_series("param_delta")[1]
        if values.size and not (np.abs(values) <= self.opt["tiny"]).any():
            self.hold.update(False, None)
            return
        for i in columns_rows(b, ("param_delta",)):
            yield from self.observe(b.record(i))

    def observe(self, rec: Record):
        deltas = [m for m in rec.metrics if m.role == "param_delta"]
        if not deltas:
            return
        largest = max(abs(m.value) for m in deltas)
        frozen = largest == largest and largest <= self.opt["tiny"]     # NaN is not "frozen"
        if self.hold.update(frozen, rec):
            first = self.hold.first
            names = ", ".join(f"{m.name}={fmt(m.value)}" for m in deltas)
            yield self.finding(
                first, f"parameters are not changing: {names} in {self.hold.count} consecutive reports "
                       f"(lines {first.line}–{rec.line})",
                evidence=[rec], metric=deltas[0].name)
