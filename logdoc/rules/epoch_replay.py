from __future__ import annotations

from bisect import bisect_left
from functools import partial
from itertools import islice, takewhile
from math import isnan
from operator import eq

from ..batch import Batch
from ..model import Severity
from . import register
from .base import Rule, fmt


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
        self.epoch = _UNSET                # the epoch being collected (None is a real key)
        # the losses of the epoch being collected and of the previous one, with the
        # (batch, row) of their first report (a Record is only built for a finding)
        self.current: list[float] = []
        self.current_first: tuple | None = None
        self.previous: list[float] = []
        self.previous_first: tuple | None = None
        # Reports(one_series=True).is_new_at, inlined: the followed pattern and the last
        # report's epoch, step and text (pos_epoch is _UNSET before the first report)
        self.pattern: str | None = None
        self.pos_epoch = _UNSET
        self.pos_step = None
        self.text: str | None = None
        self.replay: tuple | None = None   # what the closing epoch compared, for the finding
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        rows, _, values = b.train_loss()
        epochs, steps, patterns, texts = b.epoch, b.step, b.pattern, b.text
        max_reports, min_reports = self.opt["max_reports"], self.opt["min_reports"]
        tracked, pattern, text = self.epoch, self.pattern, self.text
        pos_epoch, pos_step = self.pos_epoch, self.pos_step
        cur, cur_first = self.current, self.current_first
        done = 0                           # rows before this one are done
        row_epochs = None                  # epochs of the train-loss rows, once needed
        blocked = False                    # this epoch's end cannot be skipped to
        it = zip(rows, values)
        for i, value in it:
            if i > done:                   # rows without a training loss change the epoch too
                found, changed, tracked, cur, cur_first = self._gap(epochs[done:i], tracked, cur, cur_first)
                if found is not None:
                    self.epoch = found
                    yield self._finding()
                    return
                blocked = blocked and not changed
            done = i + 1
            e = epochs[i]
            if e != tracked:
                if cur and self.previous and len(cur) >= min_reports:
                    self.current, self.current_first = cur, cur_first
                    if self._closes(False):
                        self.epoch = e
                        yield self._finding()
                        return
                else:
                    self.previous, self.previous_first = cur, cur_first
                cur, cur_first, tracked, blocked = [], None, e, False
            if value - value != 0.0:       # not finite
                continue
            p = patterns[i]
            if pattern is None:
                pattern = p
            elif p != pattern:
                continue
            s = steps[i]
            # (e, s) != the last position, compared as tuples compare (identity, then ==),
            # without building a tuple per row
            if e is None and s is None:
                new = True
            elif s is not None:
                new = not ((e is pos_epoch or e == pos_epoch) and (s is pos_step or s == pos_step))
            else:
                new = (not ((e is pos_epoch or e == pos_epoch) and pos_step is None)
                       or texts[i] != text)
            pos_epoch, pos_step, text = e, s, texts[i]
            if len(cur) < max_reports:
                if new:
                    if not cur:
                        cur_first = (b, i)
                    cur.append(value)
            elif cur and not blocked:
                # The epoch is full: until it ends, only the last report's position and text
                # matter. Skip the train-loss rows of this epoch that follow, unless a row
                # without a loss changes the epoch among them.
                if row_epochs is None:
                    row_epochs = list(map(epochs.__getitem__, rows))
                k = bisect_left(rows, i)
                run = (len(list(takewhile(partial(eq, tracked), islice(row_epochs, k + 1, None))))
                       if tracked is None or not isnan(tracked) else 0)
                if run:
                    end = rows[k + run]
                    between = epochs[i + 1:end + 1]
                    same = between.count(None) if tracked is None else \
                        between.count(None) + between.count(tracked)
                    if same == len(between):
                        for r, v in zip(rows[k + run:k:-1], values[k + run:k:-1]):
                            if v - v == 0.0 and patterns[r] == pattern:
                                pos_epoch, pos_step, text = epochs[r], steps[r], texts[r]
                                break
                        next(islice(it, run, run), None)
                        done = end + 1
                    else:
                        blocked = True
        n = len(epochs)
        if n > done:
            found, _, tracked, cur, cur_first = self._gap(epochs[done:n], tracked, cur, cur_first)
            if found is not None:
                self.epoch = found
                yield self._finding()
                return
        self.epoch, self.pattern, self.text = tracked, pattern, text
        self.pos_epoch, self.pos_step = pos_epoch, pos_step
        self.current, self.current_first = cur, cur_first

    def finish(self):
        if not self.fired and self._closes(True):
            yield self._finding()

    def _gap(self, gap: list, tracked, cur: list[float], cur_first):
        """Epoch changes among rows without a training loss: each closes the epoch collected.

        Returns (the epoch at which a replay was found, or None; whether the epoch changed;
        the epoch now tracked and its losses and first report)."""
        changed = False
        if gap.count(None) != len(gap):
            for e in gap:
                if e is not None and e != tracked:
                    self.current, self.current_first = cur, cur_first
                    if self._closes(False):
                        return e, True, tracked, cur, cur_first
                    cur, cur_first, tracked, changed = [], None, e, True
        return None, changed, tracked, cur, cur_first

    def _closes(self, partial: bool) -> bool:
        """Close the current epoch (it becomes the previous one): does it replay the previous?"""
        cur, prev = self.current, self.previous
        self.replay = (cur, self.current_first, prev, self.previous_first)
        self.previous, self.previous_first = cur, self.current_first
        self.current, self.current_first = [], None
        if not cur or not prev:
            return False
        n = len(cur)
        if n < self.opt["min_reports"] or (n != len(prev) and not (partial and n < len(prev))):
            return False
        if cur != prev[:n] or len(set(cur)) == 1:
            return False
        self.fired = True
        return True

    def _finding(self):
        values, (cb, ci), _, (pb, pi) = self.replay
        first, prev_first = cb.record(ci), pb.record(pi)
        self.replay = self.current_first = self.previous_first = None
        return self.finding(
            first, f"the training losses of this epoch repeat the previous epoch's exactly "
                   f"({len(values)} reports, {fmt(values[0])} … {fmt(values[-1])}; previous epoch from line "
                   f"{prev_first.line}): the weights are not being updated", evidence=[prev_first])


_UNSET = object()
