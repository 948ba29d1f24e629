from __future__ import annotations

from ..core import vocabulary
from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import batch_events, entry_keys, metric_values
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
    +/-inf, its value before the first evaluation, and a count, size or counter at +/-inf (a
    limit left open in a printed configuration: `max_dataset_size: inf`); NaN is still
    reported.
    """

    id = "nonfinite"
    category = "nonfinite"
    severity = Severity.error

    def __init__(self, **options):
        super().__init__(**options)
        self.reported: set[str] = set()

    def observe_batch(self, b: Batch):
        ev_rows, events = batch_events(b)
        event_row = int(ev_rows[events.index("nonfinite_loss")]) if "nonfinite_loss" in events else -1
        values = metric_values(b)
        for j in self._candidates(b, values).tolist():
            i, name, _, value = b.entry(j)
            if 0 <= event_row <= i:
                yield from self._event(b, event_row)
                event_row = -1
            self.reported.add(name)
            yield self.finding(b.record(i), f"{name} is {fmt(value)} at {b.position(i)}", metric=name)
        if event_row >= 0:
            yield from self._event(b, event_row)

    def _candidates(self, b: Batch, values):
        """The metric entries that make a finding, in order: the first non-finite value of
        each name not reported yet, leaving out ignored roles and running bests not yet set."""
        import numpy as np

        bad = np.flatnonzero(~np.isfinite(values))
        if not bad.size:
            return bad
        codes, keys = entry_keys(b, bad)
        ignored = np.array([role in IGNORED_ROLES or name in self.reported for name, role in keys], bool)
        # a running best at +/-inf (nan is still reported)
        unset_best = np.array([best_not_yet_set(name, float("inf")) for name, _ in keys], bool)
        keep = ~ignored[codes] & ~(unset_best[codes] & np.isinf(values[bad]))
        bad, codes = bad[keep], codes[keep]
        first_key: dict[str, int] = {}     # the keys of one name share an id
        name_id = np.array([first_key.setdefault(name, k) for k, (name, _) in enumerate(keys)], np.int64)
        _, first = np.unique(name_id[codes], return_index=True)
        return bad[np.sort(first)]

    def _event(self, b: Batch, i: int):
        if "event" not in self.reported:
            self.reported.add("event")
            rec = b.record(i)
            yield self.finding(rec, f"the framework reports a non-finite loss or gradient at {rec.position()}: "
                                    f"{rec.text.strip()[:140]}")


def best_not_yet_set(name: str, value: float) -> bool:
    """A running best (`best_loss`, `min_val_loss`) starts at +inf or -inf before the first
    evaluation: that is its initial value, not a non-finite result; a count, size or counter
    at inf is a limit left open (`max_dataset_size: inf`, `patience: inf`). NaN is still
    reported."""
    return (value in (float("inf"), float("-inf"))
            and vocabulary.meaning(name).kind in ("running_best", "count", "counter"))
