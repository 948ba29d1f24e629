from __future__ import annotations

import math
from collections import deque

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import loss_name, loss_reports
from .base import Reports, Rule, fmt, loss_label

# Cross-entropy of a uniform guess, ln(C), for common class counts and LLM vocabularies.
# Benchmarks' class counts (binary, CIFAR-10/MNIST, CIFAR-100, ImageNet-1k) and the
# vocabularies of common tokenizers (BERT, LLaMA, GPT-2, GPT-NeoX, LLaMA-3, Qwen).
CLASS_COUNTS = (2, 10, 100, 1000, 21128, 30522, 32000, 50257, 50304, 128256, 151936)
_LEVELS = tuple((c, math.log(c)) for c in CLASS_COUNTS)

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
        self.band_edges = [x for span in merged for x in span]

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        import numpy as np

        rows, vals, _ = loss_reports(self.reports, b)
        n = len(vals)
        if not n:
            return
        window, seen0 = self.opt["window"], self.seen
        # Firing needs `window` reports in a row inside a band around some ln(C): only where
        # such a run is long enough is the window judged exactly.
        at, run = self._inside(vals)
        for k in at[run >= window].tolist():
            f = self._judge(b, rows, vals, k, seen0 + k + 1)
            if f is not None:
                self.fired = True
                yield f
                return
        self.run = int(run[-1]) if at.size and at[-1] == n - 1 else 0
        self.seen = seen0 + n
        start = max(0, n - window)
        self.recent.extend(zip(vals[start:].tolist(), map(b.record, rows[start:].tolist())))

    def _inside(self, vals):
        """(positions of the reports inside a band, in order; how many reports in a row are
        inside up to each of them, the first run going on from the last batch's)."""
        import numpy as np

        edges = self.band_edges
        if not edges:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        # inside a band: band_edge odd, looked up only between the outer edges
        at = np.flatnonzero((vals >= edges[0]) & (vals <= edges[-1]))
        at = at[(np.searchsorted(edges, vals[at], "right") & 1).astype(bool)]
        if not at.size:
            return at, at
        starts = np.ones(at.size, bool)            # where a run of consecutive positions starts
        np.not_equal(at[1:], at[:-1] + 1, out=starts[1:])
        start = at[np.maximum.accumulate(np.where(starts, np.arange(at.size), 0))]
        return at, at - start + 1 + np.where(start == 0, self.run, 0)

    def _judge(self, b: Batch, rows, vals, k: int, seen: int):
        """The finding at new report k of this batch (`rows`, `vals`: arrays) if the window of
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
            at += [(r.epoch, r.epoch_base) for r in map(b.record, rows[max(0, start - old):k + 1].tolist())]
            done = [e - (base if base is not None else 1) for e, base in at if e is not None]
            if not (done and min(done) >= opt["start_epochs"]):
                return None
        value = float(vals[k])
        span = [v for v, _ in recent[start:]] + vals[max(0, start - old):k + 1].tolist()
        for c, level in _LEVELS:
            band = opt["rtol"] * level
            if abs(value - level) > band:
                continue              # the newest value decides first: the window scan is rare
            if all(abs(v - level) <= band for v in span):
                first = recent[start][1] if start < old else b.record(int(rows[start - old]))
                rec = b.record(int(rows[k]))
                name = loss_name(b, int(rows[k]))
                return self.finding(
                    first, f"{loss_label(name)} stays at {fmt(value)} ≈ ln({c}) = {level:.4f}, the loss of "
                           f"a uniform guess over {c} classes, for {min(window, seen)} reports "
                           f"(lines {first.line}–{rec.line})", evidence=[rec], metric=name)
        return None
