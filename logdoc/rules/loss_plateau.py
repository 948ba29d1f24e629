from __future__ import annotations

import sys
from bisect import bisect_left
from itertools import chain, compress, repeat
from math import isfinite, isnan
from operator import eq, ne, or_

from ..batch import Batch
from ..model import Severity
from . import register
from .base import Reports, Rule, fmt, loss_label
from ._series import finite_losses_np, new_finite_losses_np


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
        if b.columns is not None:                 # a big batch of the vector parser
            done = self._observe_np(b)
            if done is not None:
                yield from done
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

    def _observe_np(self, b: Batch):
        """`observe_batch` for a columns batch from its arrays: the new reports come from
        `new_finite_losses_np` (the same ones `is_new_at` finds row by row, and the number of
        them seen while the series was per-epoch), then the same block steps as the list code.
        Returns the findings (none or one), or None (nothing changed) where the arrays
        cannot say."""
        got = finite_losses_np(b)
        if got is None:
            return None
        if not got[0].size:
            return ()                                 # no finite training loss: no report
        if self.from_start is None:
            i = int(got[0][0])
            ev, ek = b.columns.counters["epoch"]
            sv, sk = b.columns.counters["step"]
            self.from_start = _near_start(None if ek is not None and not ek[i] else float(ev[i]),
                                          None if sk is not None and not sk[i] else float(sv[i]))
        new = new_finite_losses_np(self.reports, b)
        if new is None:
            return None
        rows, values, n_epoch = new
        window = self.opt["window"]
        # the reports `is_new_at` left per-epoch, and the one that ended that (blocks start
        # over), one by one as `_report` takes them; the rest in blocks as `_per_step` does
        k, n = 0, len(rows)
        while k < n and (k < n_epoch or self.size != window):
            f = self._add(b, int(rows[k]), float(values[k]), 1 if k < n_epoch else window)
            k += 1
            if f is not None:
                return (f,)
        if k < n:
            if k:
                rows, values = rows[k:], values[k:]
            f = self._blocks(b, rows, values, self._means_np(values))
            if f is not None:
                return (f,)
        # keep no batch alive: the open block and the best one become Records
        if type(self.block_first) is tuple:
            self.block_first = b.record(self.block_first[1])
        if self.best is not None and type(self.best[1]) is tuple:
            self.best = (self.best[0], b.record(self.best[1][1]))
        return ()

    def _report(self, b: Batch, i: int, value: float):
        """One finite training loss of the followed series (what `observe` did per record)."""
        if not self.reports.is_new_at(b.pattern[i], b.epoch[i], b.step[i], b.text[i]):
            return None
        return self._add(b, i, value, 1 if self.reports.per_epoch else self.opt["window"])

    def _add(self, b: Batch, i: int, value: float, size: int):
        """A new report (row i) into blocks of `size` reports."""
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
        return self._blocks(b, rows, values)

    def _blocks(self, b: Batch, rows, values, means: list[float] | None = None):
        """New reports (rows, values: lists, or arrays with `means` given) into blocks of
        `self.size`, block by block. `means`: those of the blocks they complete (the open
        block's first), as the list code computes them."""
        n = len(rows)
        w = self.size
        block = self.block
        lb = len(block)
        if lb + n < w:                                 # no block completes
            if not lb:
                self.block_first = (b, int(rows[0]))
            self.block = block + (values if type(values) is list else values.tolist())
            return None
        k0 = w - lb                                    # values that complete the open block
        if means is None:
            means = [sum(block + values[:k0]) / w]
            means += [sum(values[s:s + w]) / w for s in range(k0, n - w + 1, w)]
        best, stale = self.best, self.stale
        min_delta, patience = self.opt["min_delta"], self.opt["patience"]
        for t, mean in enumerate(means):
            if best is None or mean < best[0] - min_delta * abs(best[0]):
                self.improved = best is not None
                best = (mean, (self.block_first if lb else (b, int(rows[0]))) if t == 0
                        else (b, int(rows[k0 + (t - 1) * w])))
                stale = 0
                continue
            stale += 1
            if stale >= patience:
                self.best, self.stale = best, stale
                return self._fire(b, int(rows[k0 - 1 + t * w]))
        self.best, self.stale = best, stale
        s = k0 + (len(means) - 1) * w                  # the open block starts here
        self.block = values[s:] if type(values) is list else values[s:].tolist()
        if s < n:
            self.block_first = (b, int(rows[s]))
        return None

    def _means_np(self, values) -> list[float] | None:
        """The means `_blocks` computes (blocks of `self.size` over the open block and then
        `values`, an array), or None when no block completes. Python's sum() adds floats one
        by one from 0 up to 3.11, so a column-by-column accumulation gives the same floats;
        later versions compensate their sums: there, sum() itself is used."""
        import numpy as np

        w, block = self.size, self.block
        lb = len(block)
        count = (lb + len(values)) // w
        if not count:
            return None
        seq = values[:count * w - lb]
        if lb:
            seq = np.concatenate((np.array(block, np.float64), seq))
        if not _PLAIN_SUM:
            seq = seq.tolist()
            return [sum(seq[s:s + w]) / w for s in range(0, count * w, w)]
        by_block = seq.reshape(count, w)
        total = np.zeros(count)
        for j in range(w):
            total += by_block[:, j]
        return (total / w).tolist()

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
_PLAIN_SUM = sys.version_info < (3, 12)  # sum() of floats: plain additions, in order


def _total(values: list):
    """sum(values), or None when one is None (a column with gaps)."""
    try:
        return sum(values)
    except TypeError:
        return None


def _near_start(epoch, step) -> bool:
    """base.near_start from a row's columns."""
    return (epoch is None or epoch <= 1) and (step is None or step <= 1000)
