from __future__ import annotations

import math
from collections import deque

from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, loss_label, train_loss

# Cross-entropy of a uniform guess, ln(C), for common class counts and LLM vocabularies.
# Benchmarks' class counts (binary, CIFAR-10/MNIST, CIFAR-100, ImageNet-1k) and the
# vocabularies of common tokenizers (BERT, LLaMA, GPT-2, GPT-NeoX, LLaMA-3, Qwen).
CLASS_COUNTS = (2, 10, 100, 1000, 21128, 30522, 32000, 50257, 50304, 128256, 151936)


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

    def _past_start(self) -> bool:
        """Do the window's reports that show an epoch all lie past the first `start_epochs`?"""
        done = [r.epoch - (r.epoch_base if r.epoch_base is not None else 1)
                for _, r in self.recent if r.epoch is not None]
        return bool(done) and min(done) >= self.opt["start_epochs"]

    def observe(self, rec: Record):
        m = train_loss(rec)
        if m is None or not m.finite or self.fired:
            return
        if not self.reports.is_new(rec):
            return
        self.seen += 1
        self.recent.append((m.value, rec))
        if len(self.recent) < self.opt["window"]:
            return
        if self.seen < self.opt["min_reports"] and not self._past_start():
            return
        for c in CLASS_COUNTS:
            level = math.log(c)
            band = self.opt["rtol"] * level
            if abs(m.value - level) > band:
                continue              # the newest value decides first: the window scan is rare
            if all(abs(v - level) <= band for v, _ in self.recent):
                self.fired = True
                first = self.recent[0][1]
                yield self.finding(
                    first, f"{loss_label(m.name)} stays at {fmt(m.value)} ≈ ln({c}) = {level:.4f}, the loss of "
                           f"a uniform guess over {c} classes, for {len(self.recent)} reports "
                           f"(lines {first.line}–{rec.line})", evidence=[rec], metric=m.name)
                return
