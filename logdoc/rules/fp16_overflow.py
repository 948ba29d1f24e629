from __future__ import annotations

from collections import deque

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import batch_events
from .base import Rule


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

    def observe_batch(self, b: Batch):
        if self.fired and self.startup_reported:
            return                         # nothing left to report, ever
        import numpy as np

        tl_rows = b.np_train_loss()[0]     # training reports
        steps, known = b.np_counter("step")
        shown = np.flatnonzero(known)

        def last_step(start: int, stop: int, default):
            """The last step shown in rows start..stop-1, else `default`."""
            k = int(np.searchsorted(shown, stop)) - 1
            return float(steps[shown[k]]) if k >= 0 and shown[k] >= start else default

        done = 0                           # rows before this are accounted for
        for i, n, epoch, is_event in _overflow_rows(b):
            # training reports and steps of the rows in between
            self.reports += int(np.searchsorted(tl_rows, i) - np.searchsorted(tl_rows, done))
            self.last_step = last_step(done, i + 1, self.last_step)
            done = i + 1
            yield from self._overflow(b, i, n, epoch, is_event)
        self.reports += int(tl_rows.size - np.searchsorted(tl_rows, done))
        self.last_step = last_step(done, len(b), self.last_step)

    def _overflow(self, b: Batch, i: int, n: int, epoch, is_event: bool):
        """Row i says n optimizer steps were skipped (the reports and step before it counted)."""
        opt, later = self.opt, self.later
        if epoch is not None and epoch > 1:
            calibrating = False
        elif self.last_step is not None:       # the row's own step, else the last one shown
            calibrating = self.last_step <= opt["startup_steps"]
        else:
            calibrating = self.reports < opt["startup_reports"]
        if calibrating:
            if not self.startup_reported:
                self.startup_reported = True
                f = self.finding(b.record(i), "fp16 loss-scale overflow at start-up: the dynamic loss "
                                              "scaler is calibrating (benign if it stops)")
                f.severity = Severity.info
                yield f
            return
        if self.fired:
            return
        rec = b.record(i)
        for _ in range(min(n, later.maxlen)):
            later.append((self.reports, rec))
        if not is_event:
            self.reports += 1              # a counter line is also a training report
        span = self.reports - later[0][0]
        if len(later) >= opt["max_overflows"] and span <= opt["window"]:
            self.fired = True
            first = later[0][1]
            yield self.finding(
                first, f"{len(later)} fp16 overflows within {max(span, 1)} training reports after "
                       f"start-up (lines {first.line}–{rec.line}): gradients keep overflowing fp16, and each "
                       f"overflow skips an optimizer step (or spoils it, where the framework updates anyway)",
                evidence=[rec])


def _overflow_rows(b: Batch) -> list[tuple[int, int, float | None, bool]]:
    """(row, n, its epoch, whether it is an event line) for each row that says n > 0
    optimizer steps were skipped for overflow, in row order: an overflow event counts 1, else
    the finite positive skipped-step counters add up."""
    ev_rows, events = batch_events(b)
    found = {r: 1 for r, e in zip(ev_rows.tolist(), events) if e == "loss_scale_overflow"}
    rows, values = b.np_series("skipped_steps")
    positive = (values > 0) & (values < _INF)          # finite and positive
    if positive.any():
        sums: dict[int, float] = {}
        for r, v in zip(rows[positive].tolist(), values[positive].tolist()):
            sums[r] = sums.get(r, 0) + v
        for r, total in sums.items():
            if r not in found and int(total) > 0:
                found[r] = int(total)
    if not found:
        return []
    epochs, known = b.np_counter("epoch")
    with_event = set(ev_rows.tolist())
    return [(i, n, float(epochs[i]) if known[i] else None, i in with_event)
            for i, n in sorted(found.items())]


_INF = float("inf")
