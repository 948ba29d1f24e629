from __future__ import annotations

from itertools import chain, compress
from operator import eq

from ..batch import Batch
from ..model import Record, Severity
from . import register
from ._series import loss_name_at, new_finite_losses, new_finite_losses_np
from .base import Reports, Rule, fmt, loss_label, significant_digits


@register
class LossFlat(Rule):
    """The training loss prints the very same value report after report.

    Fires when the training loss is identical, at its printed precision, at `min_repeats`
    consecutive reports of different steps (DeepDiagnosis and DeepLocalize: the last 5
    losses all equal), or at `min_epochs` consecutive per-epoch reports (one loss per
    epoch averages a whole epoch, so three equal ones are already decisive, provided the
    value shows at least 4 significant digits; coarser values need `min_repeats`). Redraws of
    the same step count once. Losses of exactly 0 are left to `loss-zero`.

    ## Why is this bad?
    A loss averaged over different batches cannot repeat to the last printed digit unless
    the model's output no longer depends on its weights or inputs: updates are zero (LR 0,
    frozen or saturated parameters), the loss is computed on a constant, or the printed
    value is stale.

    ## Example
    ```
    iter 76 step 38: loss 10.8259, iter time: 197.87ms
    iter 78 step 39: loss 10.8259, iter time: 198.00ms
    iter 80 step 40: loss 10.8259, iter time: 197.59ms
    ```

    ## Fix
    Check that the learning rate is non-zero and that parameters change between steps
    (`frozen-params`); check for saturated outputs (sigmoid/softmax before a loss that
    expects logits), a detached loss, or a loss computed on the wrong tensor.

    ## Options
    - `min_repeats` (default 5): identical per-step reports before firing.
    - `min_epochs` (default 3): identical per-epoch reports before firing.
    - `converged` (default 0.05): a loss at or below this share of the largest loss seen is
      converged; identical values there are print rounding (`loss 0.001`) and not reported.

    ## False positives
    A loss printed with very few digits (`0.217`) can repeat while it moves slowly; such
    values need 5 distinct reports, per step or per epoch.
    """

    id = "loss-flat"
    category = "loss-plateau"
    severity = Severity.warning
    wants = frozenset({"loss"})
    options = {"min_repeats": 5, "min_epochs": 3, "converged": 0.05}

    def __init__(self, **options):
        super().__init__(**options)
        self.value: float | None = None
        self.highest = 0.0                # largest loss seen in the series
        self.first: Record | None = None
        self.count = 0
        self.reports = Reports(one_series=True)
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        if b.columns is not None:                 # a big batch of the vector parser
            got = new_finite_losses_np(self.reports, b)
            if got is not None:
                rows, vals, n_epoch = got
                if not rows.size or self._quiet_np(b, rows, vals, n_epoch):
                    return
                yield from self._scan(b, rows.tolist(), vals.tolist(), n_epoch)
                return
        rows, vals, n_epoch = new_finite_losses(self.reports, b)
        if not rows:
            return
        yield from self._scan(b, rows, vals, n_epoch)

    def _quiet_np(self, b: Batch, rows, vals, n_epoch: int) -> bool:
        """`_scan` on arrays when it does not fire: True, with the state updated as `_scan`
        leaves it; False (nothing changed) when one would fire."""
        import numpy as np

        n = len(vals)
        mags = np.abs(vals)
        repeats = np.empty(n, bool)
        np.equal(vals[1:], vals[:-1], out=repeats[1:])
        repeats[0] = self.value is not None and float(vals[0]) == self.value
        top = np.maximum.accumulate(mags)         # largest |loss| up to each row
        fires, count, first, last = self._walk(
            np.flatnonzero(repeats).tolist(), lambda k: float(vals[k]), lambda k: int(rows[k]),
            lambda k: max(self.highest, float(top[k - 1])), n_epoch)
        if fires is not None:
            return False
        self.highest = max(self.highest, float(mags.max()))
        self._carry(b, rows, float(vals[-1]), count, first, last == n - 1)
        return True

    def _scan(self, b: Batch, rows: list[int], vals: list[float], n_epoch: int):
        """The new reports `rows`, `vals` of this batch (the first `n_epoch` per-epoch)."""
        seen = [self.highest, 0]               # largest |loss| before row seen[1]

        def highest_before(k: int) -> float:
            seen[0] = max(seen[0], max(map(abs, vals[seen[1]:k])))
            seen[1] = k
            return seen[0]

        repeats = map(eq, vals, chain((self.value,), vals))
        k, count, first, last = self._walk(compress(range(len(vals)), repeats), vals.__getitem__,
                                           rows.__getitem__, highest_before, n_epoch)
        if k is not None:
            self.fired = True
            first = first if isinstance(first, Record) else b.record(first)
            rec = b.record(rows[k])
            name = loss_name_at(b, rows[k])
            yield self.finding(
                first, f"{loss_label(name)} is {fmt(vals[k])} at {count} consecutive reports "
                       f"(lines {first.line}–{rec.line}): the model is not learning",
                evidence=[rec], metric=name)
            return
        self.highest = max(self.highest, max(map(abs, vals)))
        self._carry(b, rows, vals[-1], count, first, last == len(vals) - 1)

    def _walk(self, repeats, value_at, row_at, highest_before, n_epoch: int):
        """Count the runs of equal reports through the rows that repeat the one before:
        (the row that fires or None, count, first, the last repeat visited).

        Row by row: the largest |loss| so far grows; a loss at or below `converged` times it
        forgets the value; a loss unlike the previous one (or 0) starts a count of 1; a loss
        equal to it counts one more. Only the equal ones can fire, so only they are visited
        (a repeat keeps the largest |loss|, hence whether it is converged, unchanged)."""
        converged = self.opt["converged"]
        count, first, last = self.count, self.first, -1
        for k in repeats:
            value = value_at(k)
            if value == 0:
                continue                    # 0 starts over; it is not a repeat
            if k != last + 1:               # a run of equal values starts at row k - 1
                if abs(value_at(k - 1)) <= converged * highest_before(k):
                    count = 0               # converged near 0: repeats are print rounding
                else:
                    count, first = 1, row_at(k - 1)
            # (at k == 0 the run goes on from the previous batch: self.count, self.first)
            last = k
            if count == 0:
                continue
            count += 1
            precise = significant_digits(value) >= 4
            need = self.opt["min_epochs"] if k < n_epoch and precise else self.opt["min_repeats"]
            if count >= need:
                return k, count, first, last
        return None, count, first, last

    def _carry(self, b: Batch, rows, value: float, count: int, first, ends_in_run: bool) -> None:
        """The state the next batch starts from: the run of equal values the batch ends in,
        else its last value (forgotten when it is converged near 0)."""
        if ends_in_run:
            self.value, self.count = (value, count) if count else (None, 0)
            if count:
                self.first = first if isinstance(first, Record) else b.record(first)
        elif abs(value) <= self.opt["converged"] * self.highest:
            self.value, self.count = None, 0
        else:
            self.value, self.first, self.count = value, b.record(int(rows[-1])), 1
