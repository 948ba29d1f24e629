from __future__ import annotations

from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt, train_loss


@register
class EpochReplay(Rule):
    """An epoch reproduces the previous epoch's training losses, batch for batch.

    Collects the training losses of each epoch (the first `max_reports` reports) and fires
    when an epoch's sequence equals the previous epoch's over at least `min_reports` reports
    (a shorter, cut-off last epoch counts when it matches the start of the previous one). A
    sequence of one repeated value is `loss-flat`'s, not this rule's.

    ## Why is this bad?
    Different batches of a learning model never give the same losses in the same order
    twice. A replayed epoch means the weights are not updated at all (the optimizer steps a
    different model, the learning rate is 0, every step is skipped) or they are reset at
    every epoch (the model or checkpoint is re-created inside the epoch loop).

    ## Example
    ```
    Epoch 1/1000
     1/16 [>....] - ETA: 1s - loss: 2.3992 - accuracy: 0.8438
     4/16 [===>.] - ETA: 0s - loss: 2.6361 - accuracy: 0.8281
    Epoch 2/1000
     1/16 [>....] - ETA: 0s - loss: 2.3992 - accuracy: 0.8438
     4/16 [===>.] - ETA: 0s - loss: 2.6361 - accuracy: 0.8281
    ```

    ## Fix
    Make sure the model you fit is the one the optimizer updates (not re-built or reloaded
    each epoch), that the optimizer is created after the model is moved to its device, and
    that the learning rate is not 0.

    ## Options
    - `min_reports` (default 3): matching reports needed.
    - `max_reports` (default 64): reports per epoch remembered (bounded memory).

    ## False positives
    A fixed seed with data shuffling off and a model that does not change would do it, which
    is the problem itself. Losses printed with very few digits could match by chance over
    three reports; raise `min_reports` for such logs.
    """

    id = "epoch-replay"
    category = "frozen-params"
    severity = Severity.error
    options = {"min_reports": 3, "max_reports": 64}

    def __init__(self, **options):
        super().__init__(**options)
        self.epoch = object()              # the epoch being collected (None is a real key)
        self.current: list[tuple[float, Record]] = []
        self.previous: list[tuple[float, Record]] = []
        self.reports = Reports(one_series=True)
        self.fired = False

    def observe(self, rec: Record):
        if self.fired:
            return
        m = train_loss(rec)
        if rec.epoch != self.epoch and (m is not None or rec.epoch is not None):
            yield from self._close()
            self.epoch = rec.epoch
        if m is None or not m.finite or not self.reports.is_new(rec):
            return
        if len(self.current) < self.opt["max_reports"]:
            self.current.append((m.value, rec))

    def finish(self):
        if not self.fired:
            yield from self._close(partial=True)

    def _close(self, partial: bool = False):
        cur, prev = self.current, self.previous
        self.previous, self.current = cur, []
        if self.fired or not cur or not prev:
            return
        n = len(cur)
        if n < self.opt["min_reports"] or (n != len(prev) and not (partial and n < len(prev))):
            return
        values = [v for v, _ in cur]
        if values != [v for v, _ in prev[:n]] or len(set(values)) == 1:
            return
        self.fired = True
        yield self.finding(
            cur[0][1], f"the training losses of this epoch repeat the previous epoch's exactly "
                       f"({n} reports, {fmt(values[0])} … {fmt(values[-1])}; previous epoch from line "
                       f"{prev[0][1].line}): the weights are not being updated", evidence=[prev[0][1]])
