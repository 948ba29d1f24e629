from __future__ import annotations

from bisect import bisect_left
from itertools import chain, compress, repeat
from math import isfinite, isnan
from operator import eq, ne, or_

from ..batch import Batch
from ..model import Severity
from . import register
from .base import Reports, Rule, fmt, loss_label


@register
class LossPlateau(Rule):
    """The training loss has not improved on its best level for a long stretch.

    Averages the training loss over blocks of `window` reports (one per block for per-epoch
    logs) and fires when `patience` consecutive blocks fail to beat the best block mean by
    a relative `min_delta` (the logic of Keras' ReduceLROnPlateau and Lightning's
    EarlyStopping, on block means so that batch noise does not count as progress).
    It is a warning when the best block is still the first one and the log starts at the
    beginning of training (first epoch, first 1000 steps): the run never improved. A plateau
    after real progress, or in a log that starts mid-run, is information, because
    converging runs plateau by design.

    ## Why is this bad?
    Training that no longer reduces the loss only spends compute: the learning rate is too
    low (or decayed too early) or too high (bouncing around the minimum), the model is at
    capacity, or the data/labels carry no more signal.

    ## Example
    ```
    epoch 1  loss 0.912
    epoch 2  loss 0.690
    epoch 3  loss 0.701
    …        (12 more epochs between 0.69 and 0.72)
    ```

    ## Fix
    Try a learning-rate schedule that decays on plateau (`ReduceLROnPlateau`), a larger or
    smaller LR, or stop early: the best checkpoint is already there.

    ## Options
    - `window` (default 10): reports per block for per-step logs.
    - `patience` (default 10): blocks without improvement (Keras ReduceLROnPlateau's 10).
    - `min_delta` (default 0.001): relative improvement of the best block mean that counts.

    ## False positives
    A converged run at its end is on a plateau by design (Keras' ReduceLROnPlateau exists for
    it): after progress the finding is only information. Loss that plateaus and falls again
    when the LR drops (step schedules) resets it.
    """

    id = "loss-plateau"
    category = "loss-plateau"
    severity = Severity.warning
    wants = frozenset({"loss"})
    options = {"window": 10, "patience": 10, "min_delta": 0.001}

    def __init__(self, **options):
        super().__init__(**options)
        self.block: list[float] = []
        self.block_first = None           # Record (or (batch, row) while that batch runs)
        self.best: tuple | None = None    # (mean, where its block began: as block_first)
        self.improved = False          # has any block beaten the first one?
        self.from_start: bool | None = None   # does the log start at the beginning of training?
        self.stale = 0
        self.reports = Reports(one_series=True)
        self.size = 0                     # reports per block in use
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        rows, _, values = b.train_loss()
        if not rows:
            return
        # Touch each row as few times as possible: on a long log every pass over the rows
        # costs a cache miss per row, and a tuple per row wakes the garbage collector.
        if not all(map(isfinite, values)):            # non-finite losses are no reports
            keep = list(map(isfinite, values))
            rows, values = list(compress(rows, keep)), list(compress(values, keep))
            if not rows:
                return
        if self.from_start is None:
            self.from_start = _near_start(b.epoch[rows[0]], b.step[rows[0]])
        reports = self.reports
        if reports.pattern is None:
            reports.pattern = b.pattern[rows[0]]
        keep = list(map(eq, map(b.pattern.__getitem__, rows), repeat(reports.pattern)))
        if not all(keep):                             # only the first series that reported
            rows, values = list(compress(rows, keep)), list(compress(values, keep))
            if not rows:
                return
        # while the series may still be per-epoch, report by report
        k = 0
        while k < len(rows) and reports.per_epoch:
            f = self._report(b, rows[k], values[k])
            k += 1
            if f is not None:
                yield f
                return
        if k < len(rows):
            f = self._per_step(b, rows[k:], values[k:]) if k else self._per_step(b, rows, values)
            if f is not None:
                yield f
                return
        # keep no batch alive: the open block and the best one become Records
        if type(self.block_first) is tuple:
            self.block_first = b.record(self.block_first[1])
        if self.best is not None and type(self.best[1]) is tuple:
            self.best = (self.best[0], b.record(self.best[1][1]))

    def _report(self, b: Batch, i: int, value: float):
        """One finite training loss of the followed series (what `observe` did per record)."""
        if not self.reports.is_new_at(b.pattern[i], b.epoch[i], b.step[i], b.text[i]):
            return None
        size = 1 if self.reports.per_epoch else self.opt["window"]
        if size != self.size:             # the series turned out to be per-step: start over
            self.size, self.block, self.best = size, [], None
        if not self.block:
            self.block_first = (b, i)
        self.block.append(value)
        if len(self.block) < size:
            return None
        mean = sum(self.block) / len(self.block)
        self.block = []
        best = self.best
        if best is None or mean < best[0] - self.opt["min_delta"] * abs(best[0]):
            self.improved = best is not None
            self.best = (mean, self.block_first)
            self.stale = 0
            return None
        self.stale += 1
        return self._fire(b, i) if self.stale >= self.opt["patience"] else None

    def _per_step(self, b: Batch, rows: list[int], values: list[float]):
        """The rest of the batch once the series is per-step (blocks of `window`): the new
        reports found column by column, then one step per completed block."""
        reports = self.reports
        n = len(rows)
        p_ep, p_st = reports.pos if reports.pos is not None else (_NOTHING, _NOTHING)
        new: list | None | bool = False                # False: judge report by report
        sts = list(map(b.step.__getitem__, rows))
        total = _total(sts)
        if total is not None:                          # new when (epoch, step) changes
            if not isnan(total):                       # (a nan step: tuples compare it by identity)
                new = list(map(ne, sts, chain((p_st,), sts)))
                if not all(new):                       # a step repeats: compare epochs too
                    eps = list(map(b.epoch.__getitem__, rows))
                    new = False if any(map(ne, eps, eps)) else \
                        list(map(or_, new, map(ne, eps, chain((p_ep,), eps))))
        elif sts.count(None) == n:
            eps = list(map(b.epoch.__getitem__, rows))
            total = _total(eps)
            if total is None:
                if eps.count(None) == n:
                    new = None                         # no position: every line is a report
            else:                                      # epoch only: new when it or the line changes
                texts = list(map(b.text.__getitem__, rows))
                new = list(map(ne, texts, chain((reports.text if reports.pos is not None else _NOTHING,),
                                                texts)))
                if p_st is not None:                   # the last report had a step
                    new[0] = True
                if not all(new):
                    new = False if isnan(total) else \
                        list(map(or_, new, map(ne, eps, chain((p_ep,), eps))))
        if new is False:
            for i, value in zip(rows, values):
                f = self._report(b, i, value)
                if f is not None:
                    return f
            return None
        last = rows[-1]
        reports.pos, reports.text = (b.epoch[last], sts[-1]), b.text[last]
        if new is not None and not all(new):
            rows, values = list(compress(rows, new)), list(compress(values, new))
            n = len(rows)
        reports.count += n
        if not n:
            return None
        w = self.size
        block = self.block
        lb = len(block)
        if lb + n < w:                                 # no block completes
            if not lb:
                self.block_first = (b, rows[0])
            self.block = block + values
            return None
        k0 = w - lb                                    # values that complete the open block
        means = [sum(block + values[:k0]) / w]
        means += [sum(values[s:s + w]) / w for s in range(k0, n - w + 1, w)]
        best, stale = self.best, self.stale
        min_delta, patience = self.opt["min_delta"], self.opt["patience"]
        for t, mean in enumerate(means):
            if best is None or mean < best[0] - min_delta * abs(best[0]):
                self.improved = best is not None
                best = (mean, (self.block_first if lb else (b, rows[0])) if t == 0
                        else (b, rows[k0 + (t - 1) * w]))
                stale = 0
                continue
            stale += 1
            if stale >= patience:
                self.best, self.stale = best, stale
                return self._fire(b, rows[k0 - 1 + t * w])
        self.best, self.stale = best, stale
        s = k0 + (len(means) - 1) * w                  # the open block starts here
        self.block = values[s:]
        if s < n:
            self.block_first = (b, rows[s])
        return None

    def _fire(self, b: Batch, i: int):
        """`patience` stale blocks, the last one completed at row i."""
        self.fired = True
        best = self.best
        first = best[1] if type(best[1]) is not tuple else best[1][0].record(best[1][1])
        t_rows, t_names, _ = b.train_loss()
        name = t_names[bisect_left(t_rows, i)]
        rec = b.record(i)
        f = self.finding(
            first, f"{loss_label(name)} has not improved on its "
                   f"{'best' if self.improved else 'first'} average "
                   f"{fmt(round(best[0], 4))} (line {first.line}) for "
                   f"{self.stale} blocks of {self.size} reports (until line {rec.line})"
                   + ("" if self.improved or not self.from_start else ": the run never improved"),
            evidence=[rec], metric=name)
        if self.improved or not self.from_start:
            f.severity = Severity.info
        self.block, self.block_first, self.best = [], None, None   # done: keep no batch alive
        return f


_NOTHING = object()                      # unequal to any position or text


def _total(values: list):
    """sum(values), or None when one is None (a column with gaps)."""
    try:
        return sum(values)
    except TypeError:
        return None


def _near_start(epoch, step) -> bool:
    """base.near_start from a row's columns."""
    return (epoch is None or epoch <= 1) and (step is None or step <= 1000)
