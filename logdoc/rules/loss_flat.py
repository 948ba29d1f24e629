from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import loss_name_at, loss_reports
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
        self.following = None             # (finding, value, count, first line): its message follows the run

    def observe_batch(self, b: Batch):
        if self.fired and self.following is None:
            return
        import numpy as np

        rows, vals, n_epoch = loss_reports(self.reports, b)
        if not rows.size:
            return
        if self.following is not None:
            self._follow(b, rows, vals)
            return
        mags = np.abs(vals)
        repeats = np.empty(len(vals), bool)       # equal to the report before
        np.equal(vals[1:], vals[:-1], out=repeats[1:])
        repeats[0] = self.value is not None and float(vals[0]) == self.value
        top = np.maximum.accumulate(mags)         # largest |loss| up to each report
        k, count, first, last = self._walk(
            np.flatnonzero(repeats).tolist(), lambda k: float(vals[k]), lambda k: int(rows[k]),
            lambda k: max(self.highest, float(top[k - 1])), n_epoch)
        if k is not None:
            self.fired = True
            first = first if isinstance(first, Record) else b.record(first)
            rec = b.record(int(rows[k]))
            name = loss_name_at(b, int(rows[k]))
            value = float(vals[k])
            f = self.finding(first, _message(name, value, count, first.line, rec.line), evidence=[rec], metric=name)
            self.following = (f, value, count, first.line)
            yield f
            self._follow(b, rows[k + 1:], vals[k + 1:])
            return
        self.highest = max(self.highest, float(mags.max()))
        self._carry(b, rows, float(vals[-1]), count, first, last == len(vals) - 1)

    def _follow(self, b: Batch, rows, vals) -> None:
        """The reported run goes on while the reports repeat its value: the message says
        how far (every report, up to the last line of the run)."""
        import numpy as np

        if not rows.size:
            return
        f, value, count, first_line = self.following
        same = vals == value
        n = int(same.size if same.all() else np.argmin(same))
        if n:
            count += n
            f.message = _message(f.metric, value, count, first_line, int(b.np_line()[int(rows[n - 1])]))
            self.following = (f, value, count, first_line)
        if n < same.size:
            self.following = None              # the run ended: nothing more to say

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


def _message(name: str, value: float, count: int, first_line: int, last_line: int) -> str:
    return (f"{loss_label(name)} is {fmt(value)} at {count} consecutive reports "
            f"(lines {first_line}–{last_line}): the model is not learning")
