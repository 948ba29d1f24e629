from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, loss_label, significant_digits, train_loss


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

    def observe(self, rec: Record):
        m = train_loss(rec)
        if m is None or not m.finite or self.fired:
            return
        if not self.reports.is_new(rec):
            return                        # a redraw of the same report
        self.highest = max(self.highest, abs(m.value))
        if abs(m.value) <= self.opt["converged"] * self.highest:
            self.value, self.count = None, 0    # converged near 0: repeats are print rounding
            return
        if m.value != self.value or m.value == 0:
            self.value, self.first, self.count = m.value, rec, 1
            return
        self.count += 1
        precise = significant_digits(m.value) >= 4
        need = self.opt["min_epochs"] if self.reports.per_epoch and precise else self.opt["min_repeats"]
        if self.count >= need:
            self.fired = True
            yield self.finding(
                self.first, f"{loss_label(m.name)} is {fmt(m.value)} at {self.count} consecutive reports "
                            f"(lines {self.first.line}–{rec.line}): the model is not learning",
                evidence=[rec], metric=m.name)

