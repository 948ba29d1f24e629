from __future__ import annotations

from collections import deque

from ..model import Record, Severity
from . import register
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

    def observe(self, rec: Record):
        if self.fired:
            return
        norms = [m for m in rec.by_role("grad_norm") if m.value == m.value]   # nan: `nonfinite`'s
        if not norms:
            return
        # One value per record: a line may print the norm before and after clipping.
        m = max(norms, key=lambda n: n.value)
        if m.value == float("inf"):
            self.fired = True
            yield self.finding(rec, f"{m.name} is inf at {rec.position()}: the gradient overflowed",
                               metric=m.name)
            return
        if m.value > self.opt["ceiling"]:
            self.fired = True
            yield self.finding(rec, f"{m.name} is {fmt(m.value)} at {rec.position()}, above "
                                    f"{fmt(self.opt['ceiling'])}: the gradients have exploded", metric=m.name)
            return
        if self.recent:
            median = sorted(self.recent)[len(self.recent) // 2]
            enough = len(self.recent) >= self.opt["min_history"]
            jump = self.opt["jump"] if enough else self.opt["jump"] ** 2
            if median > 0 and m.value >= jump * median:
                self.fired = True
                yield self.finding(
                    rec, f"{m.name} jumped to {fmt(m.value)} at {rec.position()}, "
                         f"{m.value / median:.0f}× its recent median {fmt(median)}", metric=m.name)
                return
        self.recent.append(m.value)
