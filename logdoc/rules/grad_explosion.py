from __future__ import annotations

import math
from collections import deque
from itertools import chain
from math import isfinite, isnan
from operator import eq

from ..batch import Batch
from ..model import Severity
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

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        if b.columns is not None and self._quiet(*b.np_series("grad_norm")):
            return                        # a big batch from the vector parser, settled by NumPy
        rows, names, values, _ = b.series("grad_norm")
        if not rows:
            return
        # One value per record: a line may print the norm before and after clipping.
        rows, names, values = per_record_max(rows, names, values, finite_only=False)
        recent, opt = self.recent, self.opt
        ceiling, jump, min_history = opt["ceiling"], opt["jump"], opt["min_history"]
        inf = math.inf
        for start in range(0, len(values), _CHUNK):
            chunk = values[start:start + _CHUNK]
            # Bulk proof that no norm of the chunk fires: none is inf or above the ceiling, and
            # the largest is below `jump` times the smallest positive norm of the window and the
            # chunk (a positive median is one of them; before min_history the ratio is jump²).
            if jump >= 1:
                hi = max(chunk)
                if hi != inf and hi <= ceiling:
                    lo = min(chunk)
                    if recent:
                        lo = min(lo, min(recent))
                    if not lo > 0:
                        lo = min(filter(_positive, chain(recent, chunk)), default=inf)
                    if hi < jump * lo:
                        recent.extend(chunk)
                        continue
            for i, name, value in zip(rows[start:start + _CHUNK], names[start:start + _CHUNK], chunk):
                if value == inf:
                    self.fired = True
                    yield self.finding(b.record(i), f"{name} is inf at {b.position(i)}: the gradient overflowed",
                                       metric=name)
                    return
                if value > ceiling:
                    self.fired = True
                    yield self.finding(b.record(i), f"{name} is {fmt(value)} at {b.position(i)}, above "
                                                    f"{fmt(ceiling)}: the gradients have exploded", metric=name)
                    return
                if recent:
                    median = sorted(recent)[len(recent) // 2]
                    factor = jump if len(recent) >= min_history else jump ** 2
                    if median > 0 and value >= factor * median:
                        self.fired = True
                        yield self.finding(
                            b.record(i), f"{name} jumped to {fmt(value)} at {b.position(i)}, "
                                         f"{value / median:.0f}× its recent median {fmt(median)}", metric=name)
                        return
                recent.append(value)

    def _quiet(self, rows, values) -> bool:
        """The chunks' bulk proof above, for every chunk of the batch at once, on its arrays
        (rows int64, values float64): True when every chunk passes it (no norm of the batch
        fires), with the window left as the loop leaves it; False (state untouched) when the
        list code must read the batch.

        With no norm firing, every norm enters the window, so the window before a chunk is the
        `window` norms before it in the stream: the test sees what the loop's test sees."""
        if not len(rows):
            return True
        opt = self.opt
        jump, ceiling = opt["jump"], opt["ceiling"]
        recent = self.recent
        width = recent.maxlen
        if not jump >= 1 or width is None or width > 4096 or (rows[1:] == rows[:-1]).any():
            return False                  # (two norms on a record: per_record_max merges them)
        values = values[values == values]                 # per_record_max leaves nan out
        n = values.size
        if not n:
            return True
        import numpy as np

        chunks = -(-n // _CHUNK)
        pad = chunks * _CHUNK - n
        hi = np.concatenate((values, np.full(pad, -math.inf))).reshape(chunks, _CHUNK).max(axis=1)
        if not ((hi != math.inf) & (hi <= ceiling)).all():
            return False
        # smallest positive norm of each chunk and of the window before it (inf: none)
        positive = np.where(values > 0, values, math.inf)
        lo = np.concatenate((positive, np.full(pad, math.inf))).reshape(chunks, _CHUNK).min(axis=1)
        if width:
            held = np.array(recent, np.float64)
            stream = np.concatenate((np.where(held > 0, held, math.inf), positive))
            before = (len(held) + np.arange(chunks) * _CHUNK)[:, None] - np.arange(1, width + 1)
            lo = np.minimum(lo, np.where(before >= 0, stream[np.maximum(before, 0)], math.inf).min(axis=1))
        if not (hi < jump * lo).all():
            return False
        recent.extend(values[-width:].tolist())
        return True


_CHUNK = 256
_positive = (0.0).__lt__


def per_record_max(rows: list[int], names: list[str], values: list[float], *, finite_only: bool):
    """(rows, names, values) of a metric series with one entry per record: its largest value
    (the first of equal ones, like `max`), leaving out nan (and +-inf with `finite_only`);
    a record with no value left is left out. The lists come back as they are when every
    record has one value and none is left out (the usual case)."""
    dropped = not all(map(isfinite, values)) if finite_only else any(map(isnan, values))
    if not dropped and not any(map(eq, rows, rows[1:])):
        return rows, names, values
    out_rows: list[int] = []
    out_names: list[str] = []
    out_values: list[float] = []
    last = -1
    for r, name, value in zip(rows, names, values):
        if value != value or (finite_only and not isfinite(value)):
            continue
        if r == last:
            if value > out_values[-1]:
                out_names[-1], out_values[-1] = name, value
            continue
        last = r
        out_rows.append(r)
        out_names.append(name)
        out_values.append(value)
    return out_rows, out_names, out_values
