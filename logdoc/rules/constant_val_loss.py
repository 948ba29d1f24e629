from __future__ import annotations


from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, significant_digits, train_loss
from ._series import columns_rows
from .. import vocabulary

_ROLES = ("val_loss", "val_metric")
CONVERGED_LOSS = 1e-4


@register
class ConstantValLoss(Rule):
    """A validation loss or metric identical, at its printed precision, over several evaluations.

    Tracks each metric with role `val_loss` or `val_metric` separately and fires when the same
    value is printed at `min_repeats` consecutive evaluations (`metric_repeats` for
    accuracy-like scores). Reprints of one evaluation
    (same epoch/step, or the same line again) count once, and so do copies of the last
    evaluation carried on per-step training lines (a train loss, a step and the same epoch as
    the value's previous print: LitGPT's `loss train: 21.625, val_loss valid: 13.879`,
    Lightning's `val_loss=` in a non-interactive progress bar).

    ## Why is this bad?
    A model that learns anything changes its validation output at least in the last printed
    digit. An identical value means the evaluated weights are not changing (zero LR, frozen
    or reloaded parameters), or the evaluation does not look at the model at all (cached
    predictions, an empty or constant validation set).

    ## Example
    ```
    Epoch 001/030: train 0.217  val 1.921642
    Epoch 002/030: train 0.218  val 1.921642
    Epoch 003/030: train 0.216  val 1.921642
    ```

    ## Fix
    Check that parameters move (`frozen-params`, `zero-lr`), that evaluation uses the model
    being trained (not a stale copy or checkpoint) and that the validation set is not empty.

    ## Options
    - `min_repeats` (default 3): identical consecutive evaluations before firing.
    - `metric_repeats` (default 5): the same for accuracy-like scores (accuracy, F1, mAP …,
      see `metric-zero`): they are quantised (k correct out of N), so a plateau repeats them
      more easily; round values with at most 2 significant digits (0.9, 0.92) are not judged.

    ## False positives
    Several evaluations within one epoch that are all carried on training-step lines count as
    one: identical values there are reported only across epochs.
    A metric printed with very few digits (e.g. accuracy `0.50` on a tiny set) can repeat by
    chance; values of exactly 0 are left to the metric-zero rules, a perfect 1.0/100 may
    legitimately repeat, and validation values that measure the run rather than the model
    (sample counts, runtimes, sizes, running bests: facts, by the metric vocabulary) are
    ignored. A loss that has converged to the floor of its printed precision (below 1e-4, as
    XGBoost's training-set `validation_0-logloss:0.00001` after many rounds) repeats because
    it cannot print smaller, not because the model stopped changing.
    """

    id = "constant-val-loss"
    category = "constant-val-loss"
    severity = Severity.error
    wants = frozenset({"val_loss", "val_metric"})
    options = {"min_repeats": 3, "metric_repeats": 5}

    def __init__(self, **options):
        super().__init__(**options)
        # metric name -> (value, first record, count, epoch of the last print, fired)
        self.runs: dict[str, list] = {}
        self.reports = Reports()

    def observe_batch(self, b):
        """`observe` for each record with a validation value. A batch over BlockColumns
        builds only those records (each reads its own text, not the whole block's)."""
        c = b.columns
        if c is None:
            yield from super().observe_batch(b)
            return
        for i in columns_rows(b, _ROLES):
            yield from self.observe(b.record(i))

    def observe(self, rec: Record):
        if not any(m.role in ("val_loss", "val_metric") for m in rec.metrics):
            return
        new = self.reports.is_new(rec)
        carries_train_step = rec.step is not None and rec.epoch is not None and train_loss(rec) is not None
        for m in rec.metrics:
            if m.role not in ("val_loss", "val_metric") or not m.finite:
                continue
            if vocabulary.is_fact(m.name, m.role) or (m.role == "val_metric" and m.value in (0.0, 1.0, 100.0)):
                continue           # 0 is metric-zero's; a perfect score may repeat; counts are not quality
            if abs(m.value) < CONVERGED_LOSS and vocabulary.meaning(m.name, m.role).kind in ("loss", "loss_component"):
                continue           # at the floor of its printed precision: it cannot print smaller
            run = self.runs.get(m.name)
            if run is None or run[0] != m.value:
                if len(self.runs) < 64 or m.name in self.runs:     # bounded
                    self.runs[m.name] = [m.value, rec, 1, rec.epoch, False]
                continue
            if not new:
                continue                       # the same evaluation printed twice
            if carries_train_step and rec.epoch == run[3]:
                continue                       # the last evaluation carried along a training step
            run[3] = rec.epoch
            run[2] += 1
            quantised = m.role == "val_metric" and vocabulary.meaning(m.name).kind in ("score", "error_rate")
            if quantised and significant_digits(m.value) <= 2:
                continue           # 0.9, 0.92: a round share of a small set repeats by itself
            need = self.opt["metric_repeats"] if quantised else self.opt["min_repeats"]
            if run[2] >= need and not run[4]:
                run[4] = True
                first = run[1]
                yield self.finding(
                    first, f"{m.name} is {fmt(m.value)} at {run[2]} consecutive evaluations "
                           f"(lines {first.line}–{rec.line}): the evaluated model is not changing",
                    evidence=[rec], metric=m.name)
