from __future__ import annotations

import math

from ..batch import Batch
from ..model import Severity
from . import register
from .base import Hold, Rule, fmt
from .grad_explosion import _CHUNK, _positive, per_record_max


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

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        if b.columns is not None and self._quiet(b, *b.np_series("grad_norm")):
            return                        # a big batch from the vector parser, settled by NumPy
        rows, names, values, _ = b.series("grad_norm")
        if not rows:
            return
        rows, names, values = per_record_max(rows, names, values, finite_only=True)
        opt, hold = self.opt, self.hold
        tiny, drop, early = opt["tiny"], opt["drop"], opt["early"]
        n, k = len(values), 0
        while k < n and self.seen < early:          # the first reports set the starting level
            self.seen += 1
            self.early_max = max(self.early_max, values[k])
            k += 1
        early_max = self.early_max
        for start in range(k, n, _CHUNK):
            chunk = values[start:start + _CHUNK]
            self.seen += len(chunk)
            # Bulk proof that no report of the chunk has vanished: its smallest positive norm
            # is neither below `tiny` nor `drop` times below the early maximum.
            if drop > 0:
                lo = min(chunk)
                if not lo > 0:
                    lo = min(filter(_positive, chunk), default=math.inf)
                if lo >= tiny and not (early_max > 0 and lo * drop <= early_max):
                    hold.update_at(False, b, rows[start])     # an episode in progress ends
                    continue
            for i, name, value in zip(rows[start:start + _CHUNK], names[start:start + _CHUNK], chunk):
                vanished = 0 < value and (value < tiny or (early_max > 0 and value * drop <= early_max))
                if hold.update_at(vanished, b, i):
                    self.fired = True
                    yield self.finding(
                        hold.first, f"{name} fell to {fmt(value)} (early maximum {fmt(early_max)}) "
                                    f"and stayed there for {hold.count} reports", evidence=[b.record(i)],
                        metric=name)
                    return

    def _quiet(self, b: Batch, rows, values) -> bool:
        """The chunks' bulk proof below, once for the whole batch, on its arrays (rows int64,
        values float64): True when no report of the batch has vanished, with the state left
        as the list code leaves it; False (state untouched) when the list code must read it.

        The smallest positive norm after the first `early` reports is neither below `tiny`
        nor `drop` times below the early maximum; every chunk's own test then holds (its
        smallest positive norm is no smaller)."""
        if not len(rows):
            return True
        opt = self.opt
        tiny, drop, early = opt["tiny"], opt["drop"], opt["early"]
        if not drop > 0 or (rows[1:] == rows[:-1]).any():
            return False                  # (two norms on a record: per_record_max merges them)
        import numpy as np

        finite = np.isfinite(values)
        if not finite.all():
            rows, values = rows[finite], values[finite]    # per_record_max leaves them out
        if not math.isfinite(early):
            return False
        # the first reports set the starting level (`early` may be a float: the loop's count)
        k = min(len(values), max(0, math.ceil(early - self.seen)))
        early_max = self.early_max
        for value in values[:k].tolist():
            early_max = max(early_max, value)
        rest = values[k:]
        if rest.size:
            positive = rest[rest > 0]
            lo = float(positive.min()) if positive.size else math.inf
            if not (lo >= tiny and not (early_max > 0 and lo * drop <= early_max)):
                return False
            self.hold.update_at(False, b, int(rows[k]))     # an episode in progress ends
        self.seen += len(values)
        self.early_max = early_max
        return True
