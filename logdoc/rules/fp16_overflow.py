from __future__ import annotations

from bisect import bisect_left
from collections import deque
from functools import partial
from operator import is_not, lt

from ..batch import Batch
from ..model import Record, Severity
from . import register
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
        if b.columns is not None:         # with NumPy, no list built
            if _quiet(b):                  # the usual batch
                self.reports += _train_report_count(b)
                self.last_step = _last_step_np(b, self.last_step)
                return
            yield from self._observe_columns(b)
            return
        steps = b.step
        n_rows = len(steps)
        overflows = _overflow_rows(b)
        tl_rows = b.train_loss()[0]
        if not overflows:                  # the usual batch: count reports, keep the last step
            self.reports += len(tl_rows)
            self.last_step = _last_step(steps, 0, n_rows, self.last_step)
            return
        epochs, events = b.epoch, b.event
        done = 0                           # rows before this are accounted for
        for i, n in overflows:
            # training reports and steps of the rows in between
            self.reports += bisect_left(tl_rows, i) - bisect_left(tl_rows, done)
            self.last_step = _last_step(steps, done, i + 1, self.last_step)
            done = i + 1
            yield from self._overflow(b, i, n, epochs[i], events[i] is not None)
        self.reports += len(tl_rows) - bisect_left(tl_rows, done)
        self.last_step = _last_step(steps, done, n_rows, self.last_step)

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
                       f"start-up (lines {first.line}–{rec.line}): optimizer steps keep being skipped",
                evidence=[rec])

    def _observe_columns(self, b: Batch):
        """The loop above on a batch over BlockColumns: rows, steps and training reports
        read from arrays, records built for the overflow rows only."""
        import numpy as np


        c = b.columns
        overflows = _overflow_rows_np(b)
        tl_rows = _train_report_rows(b)
        steps, known = c.counters["step"]
        shown = None if known is None else np.flatnonzero(known)

        def last_step(start: int, stop: int, default):
            """`_last_step` over rows start..stop-1."""
            if start >= stop:
                return default
            if shown is None:
                return float(steps[stop - 1])
            k = int(np.searchsorted(shown, stop)) - 1
            return float(steps[shown[k]]) if k >= 0 and shown[k] >= start else default

        attrs, rc = c.attrs, c.rc
        done = 0                           # rows before this are accounted for
        for i, n in overflows:
            # training reports and steps of the rows in between
            self.reports += int(np.searchsorted(tl_rows, i) - np.searchsorted(tl_rows, done))
            self.last_step = last_step(done, i + 1, self.last_step)
            done = i + 1
            yield from self._overflow(b, i, n, c.counter("epoch", i), attrs[rc[i]][2] is not None)
        self.reports += int(tl_rows.size - np.searchsorted(tl_rows, done))
        self.last_step = last_step(done, c.n, self.last_step)


_is_not_none = partial(is_not, None)


def _last_step(steps: list, start: int, stop: int, default):
    """The last step shown in rows start..stop-1, else `default`."""
    if start >= stop:
        return default
    last = steps[stop - 1]
    if last is not None:
        return last
    return next(filter(_is_not_none, reversed(steps[start:stop - 1])), default)


def _overflow_rows(b: Batch) -> list[tuple[int, int]]:
    """(row, n) for each row that says n > 0 optimizer steps were skipped for overflow, in row
    order: an overflow event counts 1, else the finite positive skipped-step counters add up."""
    found: dict[int, int] = {}
    events = b.event
    if "loss_scale_overflow" in events:
        i = -1
        try:
            while True:
                i = events.index("loss_scale_overflow", i + 1)
                found[i] = 1
        except ValueError:
            pass
    if "skipped_steps" in b.roles:
        rows, _, values, _ = b.series("skipped_steps")
        if any(map(_POSITIVE, values)):
            sums: dict[int, float] = {}
            for r, v in zip(rows, values):
                if 0 < v < _INF:           # finite and positive
                    sums[r] = sums.get(r, 0) + v
            for r, total in sums.items():
                if r not in found and int(total) > 0:
                    found[r] = int(total)
    return sorted(found.items())


# ---- the same on a batch over BlockColumns, with NumPy

def _quiet(b: Batch) -> bool:
    """No row of the batch can be an overflow row (`_overflow_rows` would find none): no
    row code carries the overflow event and no skipped-step counter is positive."""
    c = b.columns
    if any(a is not None and a[2] == "loss_scale_overflow" for a in c.attrs):
        return False
    return "skipped_steps" not in b.roles or not (b.np_series("skipped_steps")[1] > 0).any()


def _train_report_count(b: Batch) -> int:
    """len(b.train_loss()[0]): rows of the training phase with a loss."""
    import numpy as np

    rows = _train_loss_rows(b)
    return int(np.count_nonzero(rows[1:] != rows[:-1])) + 1 if rows.size else 0


def _train_loss_rows(b: Batch):
    """Rows of the training phase with a loss, once per loss (so a row may repeat)."""
    import numpy as np

    rows = b.np_series("loss")[0]
    if not rows.size:
        return rows
    c = b.columns
    if all(a is None or a[3] == "train" for a in c.attrs):   # (the usual block: a row with
        return rows                    # a loss is a record, so it has attrs, and trains)
    train = np.array([a is not None and a[3] == "train" for a in c.attrs], bool)
    return rows[train[c.rc[rows]]]


def _train_report_rows(b: Batch):
    """b.train_loss()[0] as an array: rows of the training phase with a loss, in order."""
    import numpy as np

    rows = _train_loss_rows(b)
    return rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if rows.size else rows


def _overflow_rows_np(b: Batch) -> list[tuple[int, int]]:
    """`_overflow_rows` from the row codes and the skipped-step series' arrays."""
    import numpy as np

    c = b.columns
    found: dict[int, int] = {}
    with_event = [k for k, a in enumerate(c.attrs) if a is not None and a[2] == "loss_scale_overflow"]
    if with_event:
        found = dict.fromkeys(np.flatnonzero(np.isin(c.rc, with_event)).tolist(), 1)
    if "skipped_steps" in b.roles:
        rows, values = b.np_series("skipped_steps")
        positive = (values > 0) & (values < _INF)      # finite and positive
        if positive.any():
            sums: dict[int, float] = {}
            for r, v in zip(rows[positive].tolist(), values[positive].tolist()):
                sums[r] = sums.get(r, 0) + v
            for r, total in sums.items():
                if r not in found and int(total) > 0:
                    found[r] = int(total)
    return sorted(found.items())


def _last_step_np(b: Batch, default):
    """`_last_step` over the whole batch, from the step counter's arrays."""
    import numpy as np

    values, known = b.columns.counters["step"]
    if not values.size:
        return default
    if known is None:
        return float(values[-1])
    if known[-1]:
        return float(values[-1])
    last = len(known) - 1 - int(np.argmax(known[::-1]))     # the last True (argmax stops there)
    return float(values[last]) if known[last] else default


_INF = float("inf")
_POSITIVE = partial(lt, 0)             # 0 < value (False for nan)
