from __future__ import annotations

from collections import deque
from math import isfinite

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import loss_name, loss_reports
from .base import Reports, Rule, fmt


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
        # NumPy marks the reports that may be spikes (`_marks`); the reports between them enter
        # the window in bulk (`_skip`) and `_report` judges each mark, then the reports after
        # it until the window is the arrays' again.
        rows, values, _ = loss_reports(self.reports, b)
        if not rows.size:
            return
        window, n, p = self.recent.maxlen, len(values), 0
        for q in self._marks(values):
            if q < p:
                continue                  # judged already
            self._skip(values, p, q)
            # A spike stays out of the window, so the windows after it are not the arrays'
            # until `window` values in a row have entered it.
            p, calm = q, None             # (None: no spike since the mark)
            while p < n:
                f = self._report(b, int(rows[p]), float(values[p]))
                if f is not None:
                    yield f
                p += 1
                if self.run:
                    calm = 0
                elif calm is None:
                    break
                else:
                    calm += 1
                    if calm >= window:
                        break
        self._skip(values, p, n)

    def _skip(self, values, start: int, end: int) -> None:
        """What `_report` does for values start..end-1, none of which is a spike."""
        if end > start:
            self.seen += end - start
            if self.run:
                self.run, self.run_first = 0, None
            self.recent.extend(values[max(start, end - self.recent.maxlen):end].tolist())

    def _report(self, b: Batch, i: int, value: float):
        """One new report (row i): into the window, or a spike (and maybe its finding)."""
        recent, opt = self.recent, self.opt
        rtol = opt["rtol"]
        # a spike is not an improvement and exceeds the running mean by rtol × mean
        # (the mean is summed only for a value that did not improve)
        if self.seen >= opt["warmup"] and recent and value >= recent[-1]:
            mean = sum(recent) / len(recent)
            spike = mean > 0 and value - mean >= rtol * mean
        else:
            spike = False
        self.seen += 1
        if not spike:
            if self.run:
                self.run, self.run_first = 0, None
            recent.append(value)
            return None
        # spikes do not enter the mean, so a sustained spike stays visible
        self.run += 1
        self.run_first = self.run_first or b.record(i)
        if self.run >= opt["patience"] and not self.reported_warning:
            self.reported_warning = True
            rec = b.record(i)
            return self.finding(
                self.run_first, f"training loss stayed above {1 + rtol:g}× its running mean "
                                f"for {self.run} reports (lines {self.run_first.line}–{rec.line})",
                evidence=[rec], metric=loss_name(b, i))
        if self.run == 1 and not self.reported_info:
            self.reported_info = True
            f = self.finding(b.record(i), f"training loss spiked to {fmt(value)} at {b.position(i)}, "
                                          f"{value / mean:.1f}× its running mean",
                             metric=loss_name(b, i))
            f.severity = Severity.info
            return f
        return None

    def _marks(self, values) -> list[int] | range:
        """Positions in `values` (the batch's new reports) that may be spikes: every position
        where this test does not apply.

        Value j is compared with the mean of the `window` values before it, across the
        batch's start. Up to the first spike every value enters the window, so these are
        `_report`'s windows; after a spike they are again once `window` values in a row have
        entered it (the caller judges the values in between one by one). The means are
        summed in another order than `_report`'s `sum`, so a value within a margin (far above
        the rounding of a window's sum) of being a spike is marked too."""
        recent, opt = self.recent, self.opt
        window, rtol, warmup = recent.maxlen, opt["rtol"], opt["warmup"]
        n, held = len(values), len(recent)
        if not window or not isfinite(rtol):
            return range(n)
        import numpy as np

        seq = np.concatenate((np.zeros(window - held), np.array(recent, np.float64), values))
        scale = float(np.abs(seq).max()) if n else 0.0
        if not scale < 1e300:
            return range(n)               # sums could overflow
        # the window before value j is seq[j:j + window] (zeros where the stream had less)
        sums = seq[:n] + 0.0
        for c in range(1, window):
            sums += seq[c:c + n]
        count = np.minimum(np.arange(held, held + n), window)
        after_warmup = np.arange(self.seen, self.seen + n) >= warmup
        judged = after_warmup & (count > 0) & (values >= seq[window - 1:window - 1 + n])
        mean = sums / np.maximum(count, 1)
        margin = (1e-9 + window * window * 4e-16) * (2.0 + abs(rtol)) * scale
        return np.flatnonzero(judged & (mean > -margin) & (values - mean - rtol * mean >= -margin)).tolist()
