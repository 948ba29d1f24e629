from __future__ import annotations

import math
from collections import deque

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import first_metric, min_before, per_record_max
from .base import Rule, fmt


@register
class GradExplosion(Rule):
    """The gradient norm jumps by orders of magnitude, or becomes inf.

    Keeps the last `window` finite gradient norms. Fires when a norm is inf, when it is at
    least `jump` times the median of that window (after `min_history` norms; before that only
    a jump of `jump`² counts), or when it exceeds `ceiling` whatever came before (a log that
    starts after the explosion).

    ## Why is this bad?
    An exploding gradient makes one update huge: the weights leave the region where the loss
    was low and training diverges or turns nan a few steps later. An inf norm means the
    update is skipped (loss scaling) or, without a scaler, destroys the weights.

    ## Example
    ```
    Epoch [3][400/1000]  lr: 1.000e-03, loss: 1.8211, grad_norm: 12.4301
    Epoch [3][450/1000]  lr: 1.000e-03, loss: 1.9034, grad_norm: 13.1156
    Epoch [3][500/1000]  lr: 1.000e-03, loss: 2.4477, grad_norm: inf
    ```

    ## Fix
    Clip gradients (`clip_grad_norm_(params, 1.0)`), lower the learning rate or lengthen
    warmup, and look for a bad batch at the step of the jump; with fp16 use a dynamic loss
    scaler or bf16.

    ## Options
    - `window` (default 10): recent norms whose median is the reference.
    - `jump` (default 100): ratio to that median that counts as an explosion (two orders of
      magnitude).
    - `min_history` (default 3): norms needed before ratios of `jump` are judged; with fewer,
      early norms can legitimately differ by one or two orders of magnitude, so only a jump of
      `jump`² (four orders: 3.46 → 31101415) counts.
    - `ceiling` (default 1e10): a finite norm above it is an explosion on its own. Unscaled
      global norms of healthy runs are O(0.1-1e4); even a norm logged before unscaling the
      fp16 loss scale (≤ 2^24 in steady state) times a norm of 100 stays below 2e9.

    ## False positives
    The very first steps of a run can have much larger norms than later ones; only rises
    against the recent median count. Under fp16 loss scaling one inf norm on a skipped step
    is routine: that is reported by `fp16-overflow` as well, which tells the benign case
    apart.
    """

    id = "grad-explosion"
    category = "grad-explosion"
    severity = Severity.error
    wants = frozenset({"grad_norm"})
    options = {"window": 10, "jump": 100.0, "min_history": 3, "ceiling": 1e10}

    def __init__(self, **options):
        super().__init__(**options)
        self.recent: deque[float] = deque(maxlen=self.opt["window"])
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        # One value per record: a line may print the norm before and after clipping.
        rows, values = per_record_max(b, "grad_norm", finite_only=False)
        if not rows.size:
            return
        import numpy as np

        recent = self.recent
        held = len(recent)
        stream = np.concatenate((np.array(recent, np.float64), values))     # every norm enters the window
        width = recent.maxlen if recent.maxlen is not None else stream.size
        for k in self._candidates(stream, held, width).tolist():
            p = held + k
            window = stream[max(0, p - width):p].tolist()          # `recent` when norm k comes
            value = float(values[k])
            got = self._explosion(value, window)
            if got is not None:
                self.fired = True
                recent.clear()
                recent.extend(window)
                i = int(rows[k])
                name = first_metric(b, i, "grad_norm", value).name
                what, why = got
                yield self.finding(b.record(i), f"{name} {what} at {b.position(i)}{why}", metric=name)
                return
        if width:
            recent.extend(values[-width:].tolist())

    def _candidates(self, stream, held: int, width: int):
        """Positions (in the batch, after the `held` norms of the window) of the norms that may
        fire: inf, above the ceiling, or at least `jump` (or `jump`², the smaller) times the
        smallest positive norm of the window before them, which a positive median cannot be
        below."""
        import numpy as np

        opt = self.opt
        jump = opt["jump"]
        factor = min(jump, jump ** 2)
        values = stream[held:]
        if not factor > 0:
            return np.arange(values.size)             # (odd options: every norm is judged)
        lo = min_before(np.where(stream > 0, stream, math.inf), width)[held:]
        return np.flatnonzero((values == math.inf) | (values > opt["ceiling"]) | (values >= factor * lo))

    def _explosion(self, value: float, recent: list[float]) -> tuple[str, str] | None:
        """What `value`, coming after the norms `recent`, shows and why it is an explosion (the
        message around its name and position), or None."""
        opt = self.opt
        ceiling, jump = opt["ceiling"], opt["jump"]
        if value == math.inf:
            return "is inf", ": the gradient overflowed"
        if value > ceiling:
            return f"is {fmt(value)}", f", above {fmt(ceiling)}: the gradients have exploded"
        if recent:
            median = sorted(recent)[len(recent) // 2]
            factor = jump if len(recent) >= opt["min_history"] else jump ** 2
            if median > 0 and value >= factor * median:
                return f"jumped to {fmt(value)}", f", {value / median:.0f}× its recent median {fmt(median)}"
        return None
