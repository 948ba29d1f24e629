from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import loss_name, report_key
from ._traits import RunTraits
from .base import Reports, Rule, loss_label


@register
class LossZero(Rule):
    """The training loss is exactly 0.0 in consecutive reports.

    Fires when every loss on a training record is exactly 0 (a total, not one component) at
    `hold` consecutive reports (by default the first such report). A component loss of 0 beside a positive total (the class
    loss of a single-class detector) is not reported. When the grad norm is nan as well,
    `hf-masked-nan` explains it.

    ## Why is this bad?
    Floating-point cross-entropy or MSE of a real model is never exactly 0. A printed 0.0
    means no token or sample contributed to the loss (every label masked with -100, an empty
    batch, labels not passed to the model), the loss was filtered because it was nan, or it
    underflowed in half precision. Gradients are then 0 or meaningless and nothing is
    learnt.

    ## Example
    ```
    {'loss': 2.9325, 'learning_rate': 0.0004995, 'epoch': 0.01}
    {'loss': 0.0, 'learning_rate': 0.0004991, 'epoch': 0.02}
    {'loss': 0.0, 'learning_rate': 0.0004986, 'epoch': 0.03}
    ```

    ## Fix
    Print one batch: check that labels are present and not all masked (`-100`), that the
    sequence length does not cut off every answer token, and that the model returns the loss
    of those labels; run with fp32/bf16 to rule out underflow and with
    `logging_nan_inf_filter=False` to rule out a hidden nan.

    ## Options
    - `hold` (default 1): consecutive zero reports before firing. One is enough: a float
      loss is never exactly 0 by chance, and the loss is often logged only every few hundred
      steps.

    ## False positives
    A run that prints rewards or policy losses is reinforcement learning, whose objective may
    be exactly 0 (GRPO's loss is beta × KL to the reference model, 0 until the policy moves):
    its losses are not judged. A tiny dataset memorised perfectly can print 0.0000 with 4 decimals late in training;
    the finding says where it started. A 0 on the first report of a log can be a placeholder
    printed before any loss was computed; it needs a second zero report.
    """

    id = "loss-zero"
    category = "metric-zero"
    severity = Severity.error
    wants = frozenset({"loss"})
    options = {"hold": 1}

    def __init__(self, **options):
        super().__init__(**options)
        self.first: Record | None = None
        self.started = False              # a training loss has been seen
        self.at_start = False             # `first` is the very first training loss report
        self.count = 0
        self.reports = Reports(one_series=True)
        self.fired = False
        self.following = None             # the finding whose message follows the zeros
        self.traits = RunTraits()

    def observe_batch(self, b: Batch):
        if self.fired and self.following is None:
            return
        import numpy as np

        rows, values = b.np_train_loss()
        if not rows.size or self.traits.update(b).reinforcement:
            return                        # (an RL objective may be 0: GRPO's is beta * KL, 0 at the start)
        started, self.started = self.started, True
        zeros = np.flatnonzero(values == 0).tolist()
        if not zeros:                     # no zero: every report ends an episode
            self.first, self.count, self.following = None, 0, None
            return
        masked_nan = _nonfinite_grad_norm_rows(b)
        done = 0                          # reports before this one are read
        for k in zeros:
            if k > done:                  # a non-zero (or non-finite) loss in between
                self.first, self.count = None, 0
                if self.following is not None:
                    self.following = None     # the reported run of zeros ended
                    return
            done = k + 1
            i = int(rows[k])
            if i in masked_nan:
                continue                  # hf-masked-nan owns this case
            if not self.reports.is_new_at(*report_key(b, i)) and self.first is not None:
                continue
            if self.first is None:
                self.first = b.record(i)
                self.at_start = k == 0 and not started
            self.count += 1
            if self.following is not None:    # the message follows the run until it ends
                self.following.message = self._message(self.following.metric, int(b.np_line()[i]))
                continue
            # A zero on the very first report may be a placeholder printed before any loss was
            # computed: it needs one more zero report to count.
            need = self.opt["hold"] + (1 if self.at_start else 0)
            if self.count >= need:
                self.fired = True
                rec = b.record(i)
                name = loss_name(b, i)
                self.following = self.finding(self.first, self._message(name, rec.line), evidence=[rec], metric=name)
                yield self.following
        if done < len(values):
            self.first, self.count, self.following = None, 0, None

    def _message(self, name: str, last_line: int) -> str:
        return (f"{loss_label(name)} is exactly 0.0 from {self.first.position()} on ({self.count} "
                f"consecutive reports until line {last_line}): no sample contributes to the loss")


def _nonfinite_grad_norm_rows(b: Batch) -> set[int]:
    """The batch rows that report a gradient norm that is nan or infinite."""
    import numpy as np

    rows, values = b.np_series("grad_norm")
    return set(rows[~np.isfinite(values)].tolist())
