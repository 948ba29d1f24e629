from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import loss_name, loss_reports
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
        self.lowest: tuple[float, int] | None = None      # (value, line): lowest positive so far
        self.pending: Record | None = None                 # a report that jumped: is it kept?
        self.pending_value = 0.0
        # every training-loss line (reprints once): a jump by orders of magnitude shows in a
        # per-step series and in per-epoch averages alike
        self.reports = Reports()
        self.fired = False

    def observe_batch(self, b: Batch):
        """One pass over the batch's new finite reports as arrays. A report jumps when it is
        positive and reaches the threshold the reports before it set; a jump is kept when the
        next report jumps too, or a non-finite loss comes before the next report."""
        import numpy as np

        if self.fired:
            return
        rows, values, _ = loss_reports(self.reports, b)
        all_rows, all_values = b.np_train_loss()
        broken = all_rows[~np.isfinite(all_values)]       # non-finite training losses
        if self.pending is not None:                       # a jump of an earlier batch
            before = broken[broken < rows[0]] if rows.size else broken
            if before.size:
                yield self._fire(b.record(int(before[0])), f"then became {fmt(all_values[all_rows == before[0]][0])}",
                                 loss_name(b, int(before[0])))
                return
            if not rows.size:
                return
            jumps = self._jumps(values[:1])
            if jumps[0]:
                yield self._stayed(b, rows, values, 0)
                return
            self.pending = None
        if not rows.size:
            return
        if self.first is None:
            self.first = float(values[0])
        jumps = self._jumps(values)
        for j in np.flatnonzero(jumps):
            self._take_lowest(b, rows[:j], values[:j], jumps[:j])
            after = broken[broken > rows[j]]
            if j + 1 < len(rows):
                after = after[after < rows[j + 1]]
                if not after.size and jumps[j + 1]:
                    self.pending, self.pending_value = b.record(int(rows[j])), float(values[j])
                    yield self._stayed(b, rows, values, j + 1)
                    return
            if after.size:
                self.pending, self.pending_value = b.record(int(rows[j])), float(values[j])
                i = int(after[0])
                yield self._fire(b.record(i), f"then became {fmt(all_values[all_rows == i][0])}",
                                 loss_name(b, i))
                return
            if j + 1 == len(rows):                          # judged by the next batch
                self.pending, self.pending_value = b.record(int(rows[j])), float(values[j])
        self._take_lowest(b, rows, values, jumps)

    def _take_lowest(self, b: Batch, rows, values, jumps) -> None:
        """The lowest positive report so far, jumps left out (they are what is judged)."""
        import numpy as np

        positive = np.flatnonzero((values > 0) & ~jumps)
        if positive.size:
            k = positive[np.argmin(values[positive])]
            if self.lowest is None or values[k] < self.lowest[0]:
                self.lowest = (float(values[k]), int(b.np_line()[rows[k]]))

    def _jumps(self, values):
        """Which values reach the threshold the positive reports before each set (a loss
        that has never been positive cannot jump: no ratio to judge by)."""
        import numpy as np

        positive = np.where(values > 0, values, np.inf)
        low = np.minimum.accumulate(np.concatenate(([self.lowest[0] if self.lowest else np.inf],
                                                    positive)))[:-1]
        start = self.first * self.opt["above_start"] if self.first and self.first > 0 else 0.0
        return (values > 0) & np.isfinite(low) & (values >= np.maximum(self.opt["factor"] * low, start))

    def _stayed(self, b: Batch, rows, values, k: int):
        i = int(rows[k])
        return self._fire(b.record(i), f"and stayed there ({fmt(float(values[k]))} at line {b.line[i]})",
                          loss_name(b, i))

    def _fire(self, last: Record, how: str, name: str):
        self.fired = True
        start = self.pending
        low = self.lowest
        base = f"from {fmt(low[0])} (line {low[1]})"
        ratio = self.pending_value / low[0]
        return self.finding(
            start, f"{loss_label(name)} jumped {base} to {fmt(self.pending_value)} at line "
                   f"{start.line} ({ratio:.3g}×), {how}: the updates are throwing the weights away",
            evidence=[last], metric=name)
