from __future__ import annotations

from collections import deque

from ..model import Record, Severity
from . import register
from .base import Rule, train_loss


def overflow_count(rec: Record) -> int:
    """Optimizer steps this record says were skipped for overflow."""
    if rec.event == "loss_scale_overflow":
        return 1
    return int(sum(m.value for m in rec.by_role("skipped_steps") if m.finite and m.value > 0))


@register
class Fp16Overflow(Rule):
    """fp16 overflows keep skipping optimizer steps after the start-up calibration.

    Counts overflow events (apex `Gradient overflow. Skipping step`, DeepSpeed `OVERFLOW!
    … Skipping step`, fairseq `overflow detected, setting loss scale`) and skipped-iteration
    counters (Megatron). Overflows before the first `startup_reports` training reports are
    the dynamic loss scaler calibrating down from its initial 2^16–2^32 (when the log shows
    the position, only within the first epoch and first 1000 steps): reported once as
    information. Start-up means the first `startup_steps` optimizer steps when the log shows
    steps, else the first `startup_reports` training reports, and never after epoch 1.
    Later, `max_overflows` overflows within `window` training reports are a warning.

    ## Why is this bad?
    Every overflow skips an optimizer step. A scaler in steady state overflows about once per
    growth interval (1000–2000 steps); overflows every few reports mean gradients overflow
    even at a low scale: activations or the loss are too large for fp16, and training is
    partly (or, as the scale collapses, entirely) skipped.

    ## Example
    ```
    | epoch 022 | loss 3.882 | ... | loss_scale 1.000
    | WARNING: overflow detected, setting loss scale to: 1.0
    | epoch 023 | loss 3.863 | ... | loss_scale 1.000
    | WARNING: overflow detected, setting loss scale to: 0.5
    ```

    ## Fix
    Use bf16 if the hardware supports it; otherwise lower the learning rate, clip gradients,
    keep softmax/layernorm/loss in fp32, and look for the layer whose activations grow.

    ## Options
    - `startup_steps` (default 50): steps of calibration. Halving from DeepSpeed's and
      torch's initial scale 2^16 to 1 takes 16 overflows; 50 leaves room for hysteresis.
    - `startup_reports` (default 3): training reports of calibration when no step is shown.
    - `window` (default 20): training reports in the sliding window.
    - `max_overflows` (default 3): overflows within the window that make a warning.

    ## False positives
    A burst of overflows at start-up (or right after the scaler grew its scale) is normal:
    guidance relayed in apex#318 says overflow messages are fine "as long as there are no
    NaNs".
    """

    id = "fp16-overflow"
    category = "fp16-overflow"
    severity = Severity.warning
    options = {"startup_steps": 50, "startup_reports": 3, "window": 20, "max_overflows": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.reports = 0
        self.last_step: float | None = None
        self.startup_reported = False
        self.fired = False
        # (report index, record) for each later overflow; bounded by max_overflows
        self.later: deque[tuple[int, Record]] = deque(maxlen=max(1, self.opt["max_overflows"]))

    def _calibrating(self, rec: Record) -> bool:
        """Is this overflow part of the scaler's start-up calibration?"""
        if rec.epoch is not None and rec.epoch > 1:
            return False
        step = rec.step if rec.step is not None else self.last_step
        if step is not None:
            return step <= self.opt["startup_steps"]
        return self.reports < self.opt["startup_reports"]

    def observe(self, rec: Record):
        if rec.step is not None:
            self.last_step = rec.step
        n = overflow_count(rec)
        if n == 0:
            if train_loss(rec) is not None:
                self.reports += 1
            return
        if self._calibrating(rec):
            if not self.startup_reported:
                self.startup_reported = True
                f = self.finding(rec, "fp16 loss-scale overflow at start-up: the dynamic loss scaler is "
                                      "calibrating (benign if it stops)")
                f.severity = Severity.info
                yield f
            return
        if self.fired:
            return
        for _ in range(min(n, self.later.maxlen)):
            self.later.append((self.reports, rec))
        if rec.event is None:
            self.reports += 1              # a counter line is also a training report
        span = self.reports - self.later[0][0]
        if len(self.later) >= self.opt["max_overflows"] and span <= self.opt["window"]:
            self.fired = True
            first = self.later[0][1]
            yield self.finding(
                first, f"{len(self.later)} fp16 overflows within {max(span, 1)} training reports after "
                       f"start-up (lines {first.line}–{rec.line}): optimizer steps keep being skipped",
                evidence=[rec])
