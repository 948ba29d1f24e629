from __future__ import annotations

from collections import deque

from ..batch import Batch
from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, loss_name_at, new_finite_losses


@register
class LossSpike(Rule):
    """A training loss far above its running mean (Lightning SpikeDetection).

    Keeps the mean of the last `window` training losses. A report is a spike when it is not
    an improvement over the previous loss and exceeds the mean by `rtol` times the mean
    (with the default 2.0: three times the running mean). An isolated spike is reported as
    information; `patience` consecutive spikes (llm-foundry's KillLossSpike) as a warning.

    ## Why is this bad?
    Spikes come from a learning rate too high for the current curvature, a bad batch
    (corrupt sample, extreme sequence) or fp16 overflow. Isolated spikes that recover are
    often harmless; repeated ones precede divergence.

    ## Example
    ```
    step 120  loss 2.31
    step 121  loss 2.29
    step 122  loss 7.94
    step 123  loss 8.10
    ```

    ## Fix
    Lower the learning rate or lengthen warmup, clip gradients, and inspect the batches at the
    spike (skip them if they are corrupt). Recurring spikes: use bf16, lower Adam's beta2 or
    raise its epsilon.

    ## Options
    - `window` (default 10): losses in the running mean (Lightning's default).
    - `rtol` (default 2.0): relative excess over the mean that makes a spike (Lightning).
    - `warmup` (default 1): losses seen before spikes are judged (Lightning).
    - `patience` (default 4): consecutive spikes that make it a warning (llm-foundry).

    ## False positives
    Very noisy per-batch losses (small batches, mixed tasks) spike by nature; the isolated
    spike is only information for that reason.
    """

    id = "loss-spike"
    category = "loss-divergence"
    severity = Severity.warning
    wants = frozenset({"loss"})
    options = {"window": 10, "rtol": 2.0, "warmup": 1, "patience": 4}

    def __init__(self, **options):
        super().__init__(**options)
        self.recent: deque[float] = deque(maxlen=self.opt["window"])
        self.seen = 0
        self.run = 0
        self.run_first: Record | None = None
        self.reported_info = False
        self.reported_warning = False
        self.reports = Reports(one_series=True)

    def observe_batch(self, b: Batch):
        rows, values, _ = new_finite_losses(self.reports, b)
        recent, opt = self.recent, self.opt
        warmup, rtol, patience = opt["warmup"], opt["rtol"], opt["patience"]
        seen, run = self.seen, self.run
        try:
            for i, value in zip(rows, values):
                # a spike is not an improvement and exceeds the running mean by rtol × mean
                # (the mean is summed only for a value that did not improve)
                if seen >= warmup and recent and value >= recent[-1]:
                    mean = sum(recent) / len(recent)
                    spike = mean > 0 and value - mean >= rtol * mean
                else:
                    spike = False
                seen += 1
                if not spike:
                    if run:
                        run, self.run_first = 0, None
                    recent.append(value)
                    continue
                # spikes do not enter the mean, so a sustained spike stays visible
                run += 1
                self.run_first = self.run_first or b.record(i)
                if run >= patience and not self.reported_warning:
                    self.reported_warning = True
                    yield self.finding(
                        self.run_first, f"training loss stayed above {1 + rtol:g}× its running mean "
                                        f"for {run} reports (lines {self.run_first.line}–{b.line[i]})",
                        evidence=[b.record(i)], metric=loss_name_at(b, i))
                elif run == 1 and not self.reported_info:
                    self.reported_info = True
                    f = self.finding(b.record(i), f"training loss spiked to {fmt(value)} at {b.position(i)}, "
                                                  f"{value / mean:.1f}× its running mean", metric=loss_name_at(b, i))
                    f.severity = Severity.info
                    yield f
        finally:
            self.seen, self.run = seen, run
