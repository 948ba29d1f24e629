from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from functools import partial
from itertools import chain, compress, repeat
from math import isnan
from operator import and_, eq, ne, or_

from ..batch import Batch
from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, loss_label

# Cross-entropy of a uniform guess, ln(C), for common class counts and LLM vocabularies.
# Benchmarks' class counts (binary, CIFAR-10/MNIST, CIFAR-100, ImageNet-1k) and the
# vocabularies of common tokenizers (BERT, LLaMA, GPT-2, GPT-NeoX, LLaMA-3, Qwen).
CLASS_COUNTS = (2, 10, 100, 1000, 21128, 30522, 32000, 50257, 50304, 128256, 151936)
_LEVELS = tuple((c, math.log(c)) for c in CLASS_COUNTS)

_NEVER = object()      # a report key equal to no other


def _new_reports(reports: Reports, b: Batch, rows: list[int], values: list[float]):
    """`reports.is_new_at` for every row of `rows` (batch rows, in order), in bulk.

    Returns (rows, values) of the new reports (`values` runs parallel to `rows`) and how many
    of the first new ones still saw `reports.per_epoch` True; `reports` is left as the
    row-by-row calls leave it. A report is new when its position differs from the previous
    row's, or, without a step, its text does; a row with neither epoch nor step is always
    new. (Shared by the loss-* rules; a candidate for base.Reports.)
    """
    if len(rows) <= _FEW:               # a live stream's batch: the plain calls cost less
        return _new_reports_few(reports, b, rows, values)
    if reports.one_series:
        if reports.pattern is None:
            reports.pattern = b.pattern[rows[0]]
        same = list(map(eq, map(b.pattern.__getitem__, rows), repeat(reports.pattern)))
        if False in same:
            rows, values = list(compress(rows, same)), list(compress(values, same))
            if not rows:
                return [], [], 0
    epoch, step, text = b.epoch, b.step, b.text
    n = len(rows)
    pos = reports.pos
    fresh = pos is None or (pos[0] is None and pos[1] is None)
    # Positions compared field by field, no tuple per row. The tuple path takes what that
    # cannot: missing epochs, steps on some rows only, nan (a tuple finds the same nan object
    # equal to itself).
    steps = step[rows[0]] is not None
    try:
        simple = not isnan(sum(map(epoch.__getitem__, rows))) and (
            not isnan(sum(map(step.__getitem__, rows))) if steps
            else list(map(step.__getitem__, rows)).count(None) == n)
    except (TypeError, OverflowError):   # a None among numbers
        simple = False
    if simple:
        # New: another step (or, without steps, another text) than the row before, or the
        # same one at another epoch. The first test settles most rows; the epoch is read
        # where it does not.
        if steps:
            pe, ps = (_NEVER, _NEVER) if fresh else pos
            get, prev = step.__getitem__, ps
        else:
            pe = _NEVER if fresh or pos[1] is not None else pos[0]
            get, prev = text.__getitem__, reports.text
        flags = list(map(ne, map(get, rows), chain((prev,), map(get, rows))))
        same = flags.count(False)
        if same * 8 > n:
            get = epoch.__getitem__
            flags = list(map(or_, flags, map(ne, map(get, rows), chain((pe,), map(get, rows)))))
        elif same:
            k = -1
            for _ in range(same):
                k = flags.index(False, k + 1)
                flags[k] = epoch[rows[k]] != (epoch[rows[k - 1]] if k else pe)
    else:
        keys = [(e, s) if s is not None else ((e, None, text[i]) if e is not None else j)
                for j, (i, e, s) in enumerate(zip(rows, map(epoch.__getitem__, rows),
                                                  map(step.__getitem__, rows)))]
        if fresh:
            prev = _NEVER
        else:
            prev = pos if pos[1] is not None else (pos[0], None, reports.text)
        flags = list(map(ne, keys, chain((prev,), keys)))
    n_epoch = 0
    if reports.per_epoch:
        last_epoch = pos[0] if pos is not None else _NEVER
        for i, is_new in zip(rows, flags):
            e = epoch[i]
            if is_new:
                if (step[i] is not None or e is None or not float(e).is_integer()
                        or (last_epoch is not _NEVER and e == last_epoch)):
                    reports.per_epoch = False
                    break
                n_epoch += 1
            last_epoch = e
    last = rows[-1]
    reports.pos, reports.text = (epoch[last], step[last]), text[last]
    if False in flags:
        rows, values = list(compress(rows, flags)), list(compress(values, flags))
    reports.count += len(rows)
    return rows, values, n_epoch


_FEW = 4


def _loss_name(b: Batch, i: int) -> str:
    """The name of the training loss that batch row i reports (`b.train_loss`)."""
    rows, names, _ = b.train_loss()
    return names[bisect_left(rows, i)]


def _new_reports_few(reports: Reports, b: Batch, rows: list[int], values: list[float]):
    """`_new_reports` for a few rows, one `is_new_at` call each."""
    is_new_at, pattern, epoch, step, text = reports.is_new_at, b.pattern, b.epoch, b.step, b.text
    keep, kept_values, n_epoch, counting = [], [], 0, reports.per_epoch
    for i, v in zip(rows, values):
        if is_new_at(pattern[i], epoch[i], step[i], text[i]):
            keep.append(i)
            kept_values.append(v)
            if counting and reports.per_epoch:
                n_epoch += 1
            else:
                counting = False
    return keep, kept_values, n_epoch


@register
class LossChanceLevel(Rule):
    """The training loss stays at the cross-entropy of a uniform guess, ln(C).

    After `min_reports` training reports (or as soon as the window lies wholly past the first
    `start_epochs` epochs, e.g. a log that begins at epoch 34), fires when the last `window`
    reports all lie within `rtol` of ln(C) for a common class count C (2 → 0.693, 10 → 2.303, 1000 → 6.908, LLM
    vocabularies such as 50257 → 10.825).

    ## Why is this bad?
    A classifier whose loss is ln(C) predicts the uniform distribution: it has learnt
    nothing, not even the class frequencies. Every run starts there; staying there means the
    gradient does not reach the logits (dead output layer, LR 0) or the labels do not
    depend on the inputs (shuffled labels, wrong target column).

    ## Example
    ```
    Epoch 5/50 - loss: 2.3026 - acc: 0.1000
    Epoch 6/50 - loss: 2.3026 - acc: 0.0998
    ```

    ## Fix
    Check the labels against the inputs for a few samples, that the model's last layer
    outputs logits for the loss you use, and that the learning rate is neither 0 nor so high
    that the outputs saturate.

    ## Options
    - `window` (default 10): reports that must all be at chance.
    - `min_reports` (default 20): reports before judging (the start is at chance anyway).
    - `start_epochs` (default 2): completed epochs after which the start is over: a window
      whose reports all show a later epoch is judged without waiting for `min_reports`
      (an excerpt or a resumed run that begins mid-training).
    - `rtol` (default 0.01): relative distance from ln(C).

    ## False positives
    A regression or detection loss that happens to sit near one of these values; the 1 %
    band over 10 reports makes that rare.
    """

    id = "loss-chance-level"
    category = "loss-plateau"
    severity = Severity.warning
    wants = frozenset({"loss"})
    options = {"window": 10, "min_reports": 20, "rtol": 0.01, "start_epochs": 2}

    def __init__(self, **options):
        super().__init__(**options)
        self.recent: deque[tuple[float, Record]] = deque(maxlen=self.opt["window"])
        self.seen = 0
        self.fired = False
        self.reports = Reports(one_series=True)
        self.run = 0                      # latest reports in a row that lie in some band
        # The bands around every ln(C), widened a little (rounding must not hide a value) and
        # merged into sorted edges: a value lies in one when band_edge(value) is odd.
        rtol, spans = self.opt["rtol"], []
        for _, level in _LEVELS:
            band = rtol * level
            slack = 1e-9 * (abs(level) + abs(band))
            if band >= 0:
                spans.append([level - band - slack, level + band + slack])
        spans.sort()
        merged: list[list[float]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.band_edge = partial(bisect_right, [x for span in merged for x in span])

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        rows, _, values = b.train_loss()
        if not rows:
            return
        if not math.isfinite(sum(values)):       # (a finite sum: every value is finite)
            fin = list(map(math.isfinite, values))
            rows, values = list(compress(rows, fin)), list(compress(values, fin))
        rows, vals, _ = _new_reports(self.reports, b, rows, values)
        if not rows:
            return
        window, seen0, n = self.opt["window"], self.seen, len(vals)
        # Firing needs `window` reports in a row inside a band around some ln(C): only where
        # such a run is long enough is the window judged exactly.
        inside = list(compress(range(n), map(and_, map(self.band_edge, vals), repeat(1))))
        run, last = self.run, -1
        for k in inside:
            run = run + 1 if k == last + 1 else 1
            last = k
            if run >= window:
                f = self._judge(b, rows, vals, k, seen0 + k + 1)
                if f is not None:
                    self.fired = True
                    yield f
                    return
        self.run = run if last == n - 1 else 0
        self.seen = seen0 + n
        self.recent.extend((vals[k], b.record(rows[k])) for k in range(max(0, n - window), n))

    def _judge(self, b: Batch, rows: list[int], vals: list[float], k: int, seen: int):
        """The finding at new report k of this batch (`rows`, `vals`) if the window of
        reports ending there is at chance."""
        opt = self.opt
        window = opt["window"]
        if min(window, seen) < window:
            return None
        recent = list(self.recent)
        old = len(recent)
        start = old + k - window + 1      # in recent + this batch's reports
        if seen < opt["min_reports"]:
            # past the start when the window's reports that show an epoch all lie past the
            # first `start_epochs` epochs
            at = [(r.epoch, r.epoch_base) for _, r in recent[start:]] if start < old else []
            at += [(b.epoch[i], b.epoch_base[i]) for i in rows[max(0, start - old):k + 1]]
            done = [e - (base if base is not None else 1) for e, base in at if e is not None]
            if not (done and min(done) >= opt["start_epochs"]):
                return None
        value = vals[k]
        span = [v for v, _ in recent[start:]] + vals[max(0, start - old):k + 1]
        for c, level in _LEVELS:
            band = opt["rtol"] * level
            if abs(value - level) > band:
                continue              # the newest value decides first: the window scan is rare
            if all(abs(v - level) <= band for v in span):
                first = recent[start][1] if start < old else b.record(rows[start - old])
                rec = b.record(rows[k])
                name = _loss_name(b, rows[k])
                return self.finding(
                    first, f"{loss_label(name)} stays at {fmt(value)} ≈ ln({c}) = {level:.4f}, the loss of "
                           f"a uniform guess over {c} classes, for {min(window, seen)} reports "
                           f"(lines {first.line}–{rec.line})", evidence=[rec], metric=name)
        return None
