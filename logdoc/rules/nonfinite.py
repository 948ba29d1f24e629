from __future__ import annotations

from itertools import compress
from math import isfinite
from operator import itemgetter, not_

from .. import vocabulary
from ..batch import Batch
from ..model import Severity
from . import register
from .base import Rule, fmt

# Roles where inf/nan is an artefact of timing, not of the model (e.g. a rate over 0 s).
IGNORED_ROLES = frozenset({"throughput", "time_per_step", "memory"})


@register
class NonFinite(Rule):
    """nan, inf or -inf in a loss, gradient norm, learning rate or other metric.

    Fires once per metric, at the first line where it is not finite, naming the metric, and
    once when a framework says in words that the loss went non-finite (detectron2's
    `Loss became infinite or NaN`, Keras' `Invalid loss`, autograd anomaly mode's
    `returned nan values`, TensorFlow's `Tensor had NaN values`).

    ## Why is this bad?
    Once a loss or gradient is nan or inf, every later update is garbage (or skipped): the
    weights stop meaning anything. It comes from overflow (fp16 without loss scaling, LR too
    high), log(0) or division by 0 in the loss, or bad inputs; an `inf` validation loss
    often means predictions of exactly 0 or 1 fed to a log.

    ## Example
    ```
    Epoch 030/030: train 0.218  val 1.921642
    val loss: inf
    ```

    ## Fix
    Find the first non-finite value: lower the LR or add warmup, clip gradients, use bf16 or
    a loss scaler, clamp probabilities before `log`, and check the data at that step
    (`torch.autograd.set_detect_anomaly(True)` names the operation).

    ## Options
    None.

    ## False positives
    Throughput, time and memory values are ignored (a rate over a zero interval is inf), and
    so is a running best (`best_loss`, `min_val_loss`: the vocabulary's kind `running_best`) at
    +/-inf, its value before the first evaluation; a NaN running best is still reported.
    """

    id = "nonfinite"
    category = "nonfinite"
    severity = Severity.error

    def __init__(self, **options):
        super().__init__(**options)
        self.reported: set[str] = set()

    def observe_batch(self, b: Batch):
        if b.columns is not None:
            yield from self._observe_columns(b)
            return
        reported = self.reported
        events, values = b.event, b.m_value
        event_row = events.index("nonfinite_loss") if "nonfinite_loss" in events else -1
        if isfinite(sum(values)):          # a sum is finite only when every value is
            bad = ()
        else:
            bad = compress(range(len(values)), map(not_, map(isfinite, values)))
        rows, names, roles = b.m_row, b.m_name, b.m_role
        for j in bad:
            i = rows[j]
            if 0 <= event_row <= i:
                yield from self._event(b, event_row)
                event_row = -1
            name = names[j]
            if roles[j] in IGNORED_ROLES or name in reported or best_not_yet_set(name, values[j]):
                continue
            reported.add(name)
            yield self.finding(b.record(i), f"{name} is {fmt(values[j])} at {b.position(i)}", metric=name)
        if event_row >= 0:
            yield from self._event(b, event_row)

    def _observe_columns(self, b: Batch):
        """`observe_batch` on a batch over BlockColumns, with NumPy (no list built): the same
        findings in the same order. Only the first non-finite value of each metric name (not
        of an ignored role) can make one, so only those are read."""
        import numpy as np


        c = b.columns
        with_event = [k for k, a in enumerate(c.attrs) if a is not None and a[2] == "nonfinite_loss"]
        ev = np.flatnonzero(np.isin(c.rc, with_event)) if with_event else ()
        event_row = int(ev[0]) if len(ev) else -1
        bad = np.flatnonzero(~np.isfinite(c.m_value))
        meta, reported = c.meta, self.reported
        if bad.size:
            # one key per metric name (-1: an ignored role); the first bad value of each
            # name is the only one that can speak (the loop skips the others)
            names = list(map(itemgetter(0), meta))
            ids = {name: k for k, name in enumerate(dict.fromkeys(names))}
            key = np.fromiter(map(ids.__getitem__, names), np.int64, len(names))
            key[np.fromiter(map(IGNORED_ROLES.__contains__, map(itemgetter(1), meta)), bool, len(meta))] = -1
            key = key[c.m_meta[bad]]
            bad = bad[key >= 0]
            _, first = np.unique(key[key >= 0], return_index=True)
            bad = bad[np.sort(first)]
        for j in bad.tolist():
            i = int(c.m_row[j])
            if 0 <= event_row <= i:
                yield from self._event(b, event_row)
                event_row = -1
            name, role = meta[c.m_meta[j]][:2]
            if role in IGNORED_ROLES or name in reported or best_not_yet_set(name, float(c.m_value[j])):
                continue
            reported.add(name)
            rec = b.record(i)
            yield self.finding(rec, f"{name} is {fmt(float(c.m_value[j]))} at {rec.position()}", metric=name)
        if event_row >= 0:
            yield from self._event(b, event_row)

    def _event(self, b: Batch, i: int):
        if "event" not in self.reported:
            self.reported.add("event")
            rec = b.record(i)
            yield self.finding(rec, f"the framework reports a non-finite loss or gradient at {rec.position()}: "
                                    f"{rec.text.strip()[:140]}")


def best_not_yet_set(name: str, value: float) -> bool:
    """A running best (`best_loss`, `min_val_loss`) starts at +inf or -inf before the first
    evaluation: that is its initial value, not a non-finite result. NaN is still reported."""
    return value in (float("inf"), float("-inf")) and vocabulary.meaning(name).kind == "running_best"
