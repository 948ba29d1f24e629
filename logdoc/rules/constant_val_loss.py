from __future__ import annotations


from ..core.model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, printed_digits, train_loss
from ._series import columns_rows
from ..core import vocabulary

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
    predictions, an empty or constant validation set). A score or error rate that stays put
    while the validation loss moves means the predictions collapsed (one class, one output,
    often at chance level): the message says which of the two the evidence shows, and the
    whole run of identical values (updated until it ends).

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
    - `metric_repeats` (default 5): the same for a value that settles after its first report
      and is coarse: a score or error rate (quantised, k correct out of N) or a value printed
      with at most 3 significant digits (a progress bar's `val_loss=0.299`), because a
      plateau repeats those by itself. A value identical from its first report on needs only
      `min_repeats`. Scores printed with at most 2 significant digits (0.9, 0.92, as printed:
      `0.5000` has 4) are not judged.

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
        """`_evaluation` of each record with a validation value, in order (a batch over
        BlockColumns builds only those records: each reads its own text, not the block's)."""
        for i in columns_rows(b, _ROLES):
            yield from self._evaluation(b.record(i))

    def _evaluation(self, rec: Record):
        new = self.reports.is_new(rec)
        carries_train_step = rec.step is not None and rec.epoch is not None and train_loss(rec) is not None
        for m in rec.metrics:
            if m.role not in ("val_loss", "val_metric") or not m.finite:
                continue
            kind = vocabulary.meaning(m.name, m.role).kind
            if vocabulary.is_fact(m.name, m.role) or _at_a_bound(kind, m.role, m.value):
                continue
            if abs(m.value) < CONVERGED_LOSS and kind in ("loss", "loss_component", "aux_loss"):
                continue           # at the floor of its printed precision: it cannot print smaller
            run = self.runs.get(m.name)
            if run is None or run[0] != m.value:
                if len(self.runs) < 64 or m.name in self.runs:     # bounded
                    # [value, first record, count, epoch of the last print, finding, from the
                    #  metric's first report, the last record, other val losses seen]
                    self.runs[m.name] = [m.value, rec, 1, rec.epoch, None, m.name not in self.runs,
                                         rec, _val_losses(rec, m.name)]
                continue
            if not new:
                continue                       # the same evaluation printed twice
            if carries_train_step and (rec.epoch == run[3] or _mid_epoch(rec)):
                continue                       # the last evaluation carried along a training step
            run[3] = rec.epoch
            run[2] += 1
            run[6] = rec
            if len(run[7]) < 32:
                run[7] |= _val_losses(rec, m.name)
            if run[4] is not None:             # reported: the message follows the run
                run[4].message = _message(m.name, run, kind)
                continue
            quantised = kind in ("score", "error_rate")
            digits = printed_digits(rec.text, m.name, m.value)
            if quantised and digits <= 2:
                continue           # 0.9, 0.92: a round share of a small set repeats by itself
            # A value identical from its first report on never responded to training at all.
            # One that settles later may be a plateau: of k-out-of-N for a score, or of a loss
            # printed with few digits (a progress bar's 0.299), so it needs more repeats.
            coarse = quantised or digits <= 3
            need = self.opt["metric_repeats"] if coarse and not run[5] else self.opt["min_repeats"]
            if run[2] >= need:
                run[4] = self.finding(run[1], _message(m.name, run, kind), evidence=[rec], metric=m.name)
                yield run[4]


def _mid_epoch(rec: Record) -> bool:
    """A training-step line before its epoch's last step: a progress bar carrying the last
    evaluation into the next epoch (Lightning's `Epoch 4: 6%|…, val_loss=0.30`) is not a new
    evaluation; the epoch's last frame, printed after validation, may be."""
    return rec.step_total is not None and rec.step < rec.step_total


def _at_a_bound(kind: str, role: str, value: float) -> bool:
    """0 is metric-zero's; a perfect score (1.0, 100) or error rate (0) may repeat. An error
    rate stuck at 1.0 (every word wrong) is judged."""
    if kind == "error_rate":
        return value == 0.0
    return role == "val_metric" and value in (0.0, 1.0, 100.0)


def _val_losses(rec: Record, name: str) -> set:
    """(name, value) of the record's other validation losses: did the loss move while this
    value did not?"""
    return {(m.name, m.value) for m in rec.metrics
            if m.name != name and m.role == "val_loss" and m.finite}


def _message(name: str, run: list, kind: str) -> str:
    first, last = run[1], run[6]
    moved = len({n for n, _ in run[7]}) < len(run[7])     # one loss, several values
    if kind in ("score", "error_rate") and moved:
        why = ("the validation loss moves but this score does not: the predictions have "
               "collapsed (one class, one output) or the score ignores them")
    else:
        why = "the evaluated model is not changing"
    extent = "from its first report " if run[5] else ""
    return (f"{name} is {fmt(run[0])} at {run[2]} consecutive evaluations {extent}"
            f"(lines {first.line}–{last.line}): {why}")
