from __future__ import annotations

import math

from ..batch import Batch
from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, loss_label


@register
class LossExplosion(Rule):
    """The training loss jumps by orders of magnitude above anything it has been, and stays
    there or turns non-finite.

    Follows the training loss report by report (reprints count once) and fires when a report
    is at least `factor` times the lowest loss so far and at least `above_start` times the
    first one (clearly worse than where training began), and the next report is as high
    again or non-finite. Catches the divergence of a run too short, or too fast, for
    `loss-divergence`'s block averages: `1.41 → 62.4 → 6160 → 1.35e6`, or `1.7e12 → 9.9e34 →
    nan` in two epochs.

    ## Why is this bad?
    A loss that multiplies by a hundred within a few reports is not noise: the updates are
    throwing the weights away. The learning rate is far too high (a typo such as `2e5` for
    `2e-5`), gradients are not clipped, or the inputs or targets are not normalised. The next
    stop is `nan`.

    ## Example
    ```
    Epoch 0: 100%|██████████| 16/16 [..., train_loss=1.410]
    Epoch 1: 100%|██████████| 16/16 [..., train_loss=62.40]
    Epoch 2: 100%|██████████| 16/16 [..., train_loss=6.16e+3]
    Epoch 3: 100%|██████████| 16/16 [..., train_loss=1.35e+6]
    ```

    ## Fix
    Lower the learning rate by 10–100× (check its exponent), clip gradients
    (`max_norm=1.0`, `gradient_clip_val`), normalise inputs and regression targets, and check
    the loss at the first report against what the task's chance level gives (ln k for k
    classes).

    ## Options
    - `factor` (default 100): how many times the lowest loss so far a report must be.
    - `above_start` (default 10): how many times the first report it must also be.

    ## False positives
    Reinforcement-learning value losses (DQN, critics) can jump by 100× when the replay
    buffer or the targets change and come back; one such report alone does not fire (the next
    must be as high), but a run of them does. A loss that starts near 0 by construction
    (a fine-tune resumed at its optimum) and rises is judged against its first report too.
    """

    id = "loss-explosion"
    category = "loss-divergence"
    severity = Severity.error
    wants = frozenset({"loss"})
    options = {"factor": 100.0, "above_start": 10.0}

    def __init__(self, **options):
        super().__init__(**options)
        self.first: float | None = None
        self.lowest: tuple[float, int] | None = None      # (value, line): lowest so far
        self.pending: Record | None = None                 # a report that jumped: is it kept?
        self.pending_value = 0.0
        # every training-loss line (reprints once): a jump by orders of magnitude shows in a
        # per-step series and in per-epoch averages alike
        self.reports = Reports()
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        if b.columns is not None and self.pending is None and self.first is not None:
            rows, values = b.np_train_loss()       # a big batch: NumPy proves most are quiet
            if self._quiet(b, rows, values):
                return
        rows, _, values = b.train_loss()
        for i, value in zip(rows, values):
            if not self.reports.is_new_at(b.pattern[i], b.epoch[i], b.step[i], b.text[i]):
                continue
            if not math.isfinite(value):
                if self.pending is not None:
                    yield self._fire(b.record(i), f"then became {fmt(value)}", _name(b, i))
                    return
                continue
            if self.first is None:
                self.first = value
            if self.pending is not None:
                if value >= self._threshold():
                    yield self._fire(b.record(i), f"and stayed there ({fmt(value)} at line {b.line[i]})",
                                     _name(b, i))
                    return
                self.pending = None
            if value > 0 and value >= self._threshold():
                self.pending, self.pending_value = b.record(i), value
            elif value > 0 and (self.lowest is None or value < self.lowest[0]):
                self.lowest = (value, b.line[i])

    def _threshold(self) -> float:
        lowest = self.lowest[0] if self.lowest else self.first
        return max(self.opt["factor"] * lowest, self.opt["above_start"] * self.first)

    def _quiet(self, b: Batch, rows, values) -> bool:
        """The batch cannot jump: no finite value reaches the threshold that even the batch's
        lowest value would set (the threshold only falls as lower values arrive), and no
        jump is pending. Then only the lowest value is taken from it."""
        import numpy as np

        finite = values[np.isfinite(values)]
        if not finite.size:
            return True
        positive = finite > 0
        low = float(finite[positive].min()) if positive.any() else math.inf
        lowest = min(self.lowest[0] if self.lowest else self.first, low)
        bound = max(self.opt["factor"] * lowest, self.opt["above_start"] * self.first)
        if float(finite.max()) >= bound:
            return False
        if self.lowest is None or low < self.lowest[0]:
            at = np.flatnonzero(np.isfinite(values) & (values == low))[0]
            self.lowest = (low, int(b.np_line()[rows[at]]))
        return True

    def _fire(self, last: Record, how: str, name: str):
        self.fired = True
        start = self.pending
        low = self.lowest
        base = (f"from {fmt(low[0])} (line {low[1]})" if low else f"from {fmt(self.first)}")
        ratio = self.pending_value / (low[0] if low else self.first)
        return self.finding(
            start, f"{loss_label(name)} jumped {base} to {fmt(self.pending_value)} at line "
                   f"{start.line} ({ratio:.3g}×), {how}: the updates are throwing the weights away",
            evidence=[last], metric=name)


def _name(b: Batch, i: int) -> str:
    rows, names, _ = b.train_loss()
    try:
        return names[rows.index(i)]
    except ValueError:
        return "loss"
