from __future__ import annotations

from bisect import bisect_left
from functools import partial
from itertools import islice, takewhile
from math import isnan
from operator import eq, ne

from ..core.batch import Batch
from ..core.model import Severity
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
        # the losses of the epoch being collected and of the previous one, with their first
        # report
        self.current: list[float] = []
        self.current_first = None           # (batch, row) or, once its batch is read, a Record
        self.previous: list[float] = []
        self.previous_first = None
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
        if b.columns is not None and self._in_bulk(b):
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
        self._settle()

    def _in_bulk(self, b: Batch) -> bool:
        """Take a big batch with array operations when it provably holds no replay.

        The row loop above, restated: the epoch column cuts the rows into runs of one epoch;
        each run collects its first `max_reports` new finite reports of the followed pattern;
        when a run ends, its collection is compared with the previous run's. Two collections
        can only be equal with the same length and the same first value: when no closing run
        meets that, nothing fires and the state is set as the loop would leave it. Otherwise,
        or with unknown or nan positions, the loop decides (False)."""
        import numpy as np

        tracked, pos_epoch, pos_step = self.epoch, self.pos_epoch, self.pos_step
        if (self.pattern is None or tracked is _UNSET or tracked is None or isnan(tracked)
                or pos_epoch is _UNSET or pos_epoch is None or isnan(pos_epoch)
                or (pos_step is not None and isnan(pos_step)) or not len(b)):
            return False
        epochs, known = b.np_counter("epoch")
        if not known.all() or np.isnan(epochs).any():
            return False
        cols = b.columns
        rows, values = b.np_train_loss()
        followed = np.array([a is not None and a[0] == self.pattern for a in cols.attrs], bool)
        keep = np.isfinite(values) & followed[cols.rc[rows]]
        rows, values = rows[keep], values[keep]
        steps, has_step = b.np_counter("step")
        e, s, sk = epochs[rows], steps[rows], has_step[rows]
        if np.isnan(s[sk]).any():
            return False
        # new report: another position than the previous followed report (or, both without a
        # step, the same epoch but another text)
        m = len(rows)
        pe, ps, psk = np.empty(m), np.empty(m), np.empty(m, bool)
        if m:
            pe[0], pe[1:] = pos_epoch, e[:-1]
            ps[0], ps[1:] = (np.nan if pos_step is None else pos_step), s[:-1]
            psk[0], psk[1:] = pos_step is not None, sk[:-1]
        same_e = e == pe
        new = np.where(sk, ~same_e | ~psk | (s != ps), ~(same_e & ~psk))
        ask = np.flatnonzero(~sk & same_e & ~psk)
        if len(ask) and ask[0] == 0:        # the first against the text carried in
            new[0] = cols.texts(rows[:1])[0] != self.text
            ask = ask[1:]
        if len(ask):
            differ = cols.texts_differ(rows[ask], rows[ask - 1])
            new[ask[differ]] = True
            ask = ask[~differ]
            new[ask] = list(map(ne, cols.texts(rows[ask]), cols.texts(rows[ask - 1])))
        # runs of one epoch over all rows; run 0 continues the one carried in
        change = np.empty(len(epochs), bool)
        change[0] = epochs[0] != tracked
        change[1:] = epochs[1:] != epochs[:-1]
        run_of_row = np.cumsum(change)
        runs = int(run_of_row[-1]) + 1
        got_rows, got_values = rows[new], values[new]
        got_run = run_of_row[got_rows]
        carried = len(self.current)
        rank = np.arange(len(got_run)) - np.searchsorted(got_run, got_run)
        rank[got_run == 0] += carried
        take = rank < self.opt["max_reports"]
        got_rows, got_values, got_run = got_rows[take], got_values[take], got_run[take]
        sizes = np.bincount(got_run, minlength=runs)
        sizes[0] += carried
        firsts = np.full(runs, np.nan)
        at = np.searchsorted(got_run, np.arange(runs))
        has = at < len(got_run)
        has[has] = got_run[at[has]] == np.arange(runs)[has]
        firsts[has] = got_values[at[has]]
        if carried:
            firsts[0] = self.current[0]
        prev_sizes = np.concatenate(([len(self.previous)], sizes[:-1]))
        prev_firsts = np.concatenate(([self.previous[0] if self.previous else np.nan], firsts[:-1]))
        closing = slice(0, runs - 1)
        if ((sizes[closing] >= self.opt["min_reports"]) & (sizes[closing] == prev_sizes[closing])
                & (firsts[closing] == prev_firsts[closing])).any():
            return False                      # a possible replay: the loop compares exactly

        def collected(run: int):
            lo, hi = np.searchsorted(got_run, [run, run + 1])
            vals, first = got_values[lo:hi].tolist(), ((b, int(got_rows[lo])) if hi > lo else None)
            if run == 0 and carried:
                return self.current + vals, self.current_first
            return vals, first

        if runs > 1:
            self.previous, self.previous_first = collected(runs - 2)
        self.current, self.current_first = collected(runs - 1)
        self._settle()
        self.epoch = float(epochs[-1])
        if m:
            last = len(rows) - 1
            self.pos_epoch = float(e[last])
            self.pos_step = float(s[last]) if sk[last] else None
            self.text = cols.texts(rows[last:])[0]
        return True

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

    def _settle(self) -> None:
        """First reports are kept as (batch, row) while their batch is read, as Records after
        it: holding a batch would hold its whole block in memory."""
        self.current_first = _record(self.current_first)
        self.previous_first = _record(self.previous_first)

    def _finding(self):
        values, first, _, prev_first = self.replay
        first, prev_first = _record(first), _record(prev_first)
        self.replay = self.current_first = self.previous_first = None
        return self.finding(
            first, f"the training losses of this epoch repeat the previous epoch's exactly "
                   f"({len(values)} reports, {fmt(values[0])} … {fmt(values[-1])}; previous epoch from line "
                   f"{prev_first.line}): the weights are not being updated", evidence=[prev_first])


_UNSET = object()


def _record(first):
    """A first report as a Record ((batch, row) while its batch is being read)."""
    return first[0].record(first[1]) if first.__class__ is tuple else first
